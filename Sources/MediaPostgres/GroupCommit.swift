import Synchronization

/// Group commit for concurrent callers of one statement kind (enqueues, completions): while one caller's statement
/// runs, the others queue up; when it ends, the first of them leads the next statement with everything that queued
/// meanwhile (up to `limit`), and so on until none is left. A lone caller runs alone at once. Every statement runs in
/// the task of the caller leading it (no task of its own), and each caller returns once its own item is committed,
/// with its own result.
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    /// What a waiting caller is told: its result, or that it leads the next statement.
    private enum Turn: Sendable {
        case done(Result<Output, any Error>)
        case lead
    }

    private struct Waiter: Sendable {
        let item: Item
        let turn: CheckedContinuation<Turn, Never>
    }

    /// Callers waiting for a statement, and whether one is running.
    private let state = Mutex<(waiting: [Waiter], leading: Bool)>(([], false))
    /// Most items one statement takes.
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Commits `item` with whatever else is waiting; returns or throws its own result. `commit` runs one statement
    /// for the items it is given and returns one result per item, in order (every caller passes the same one: the
    /// leader's runs).
    func submit(_ item: Item, commit: ([Item]) async -> [Result<Output, any Error>]) async throws -> Output {
        let turn = await withCheckedContinuation { (turn: CheckedContinuation<Turn, Never>) in
            let leads = state.withLock { state -> Bool in
                if state.leading {
                    state.waiting.append(Waiter(item: item, turn: turn))
                    return false
                }
                state.leading = true
                return true
            }
            if leads { turn.resume(returning: .lead) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .lead:
            let others = state.withLock { state -> [Waiter] in
                let batch = Array(state.waiting.prefix(limit - 1))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            let results = await commit([item] + others.map(\.item))
            precondition(results.count == others.count + 1, "one result per item")
            // A statement that failed while the leader's task was cancelled may have failed for that alone (the pool
            // gives a cancelled task no connection): the others' items go first in the next statement instead.
            let cancelled = Task.isCancelled
            var again: [Waiter] = []
            for (waiter, result) in zip(others, results.dropFirst()) {
                if cancelled, case .failure = result { again.append(waiter) } else { waiter.turn.resume(returning: .done(result)) }
            }
            // The next statement is led by the oldest waiter, in its own task.
            let next = state.withLock { state -> Waiter? in
                state.waiting.insert(contentsOf: again, at: 0)
                guard !state.waiting.isEmpty else {
                    state.leading = false
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.turn.resume(returning: .lead)
            return try results[0].get()
        }
    }
}
