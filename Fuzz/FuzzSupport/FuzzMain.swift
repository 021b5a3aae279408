// The entry point every fuzz target shares: libFuzzer's driver when built with `make fuzz` (-DFUZZING), otherwise
// a replay program that runs each file named on the command line once (to reproduce a crash under a debugger).
import Foundation

/// libFuzzer's per-input callback.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

#if FUZZING
// libFuzzer's own entry (LLVM 11+): parses its flags from argv and calls `callback` for every input.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> Int32
#endif

public enum FuzzMain {
    /// Runs the fuzzer on `callback`, or replays the files given as arguments through it.
    public static func run(_ callback: FuzzCallback) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
        #else
        for path in CommandLine.arguments.dropFirst() {
            let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
            _ = bytes.withUnsafeBufferPointer { callback($0.baseAddress, $0.count) }
        }
        exit(0)
        #endif
    }
}
