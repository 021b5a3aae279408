/// Queue benchmark (to be written).
enum QueueBench {
    static func run(_ arguments: [String]) -> Int32 { 2 }
}
