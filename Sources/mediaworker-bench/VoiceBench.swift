/// Voice-note conversion benchmark (to be written).
enum VoiceBench {
    static func run(_ arguments: [String]) -> Int32 { 2 }
}
