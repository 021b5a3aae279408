/// 5242880 → "5,242,880": how docs/cli.md writes numbers in human-readable messages.
public func grouped(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return n < 0 ? "-" + out : out
}
