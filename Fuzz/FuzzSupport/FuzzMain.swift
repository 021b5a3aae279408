// The entry point every fuzz target shares: libFuzzer's driver when built with `make fuzz` (-DFUZZING), otherwise
// a replay program that runs each file named on the command line once (to reproduce a crash under a debugger).
import Foundation

#if FUZZING
// libFuzzer's own entry (LLVM 11+): parses its flags from argv and calls the callback for every input.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
#endif

/// The target's function, set once by `FuzzMain.run` before any input arrives.
nonisolated(unsafe) private var target: ([UInt8]) -> Void = { _ in }

/// libFuzzer's per-input entry (its driver links against this name).
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

public enum FuzzMain {
    /// Runs the fuzzer on `body`, or replays the files given as arguments through it.
    public static func run(_ body: @escaping ([UInt8]) -> Void) -> Never {
        target = body
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
        #else
        for path in CommandLine.arguments.dropFirst() { body([UInt8](FileManager.default.contents(atPath: path) ?? Data())) }
        exit(0)
        #endif
    }

    /// For targets that reach internal code through @testable, which only debug builds allow.
    public static func needsDebugBuild(_ name: String) -> Never {
        FileHandle.standardError.write(Data("\(name) reaches internal code: build it in debug (make fuzz)\n".utf8))
        exit(2)
    }
}
