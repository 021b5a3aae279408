import Foundation
import MediaSandbox

// `mediaworker-attack-helper helper --parent PID`: started by a test's `SandboxedPipeline` exactly as `mediaworker
// helper` is (same arguments, pipes, environment, lock-down), then taken over by its file: a job whose bytes start
// with the line `MWATTACK` carries a plan (`AttackPlan`) that the helper follows instead of the pipeline; any other
// file is processed for real. Test builds only: the `mediaworker` binary never contains this code.
let arguments = CommandLine.arguments.dropFirst()
guard arguments.first == "helper", let flag = arguments.firstIndex(of: "--parent"), flag + 1 < arguments.endIndex,
      let parent = Int32(arguments[flag + 1]) else {
    FileHandle.standardError.write(Data("usage: mediaworker-attack-helper helper --parent PID\n".utf8))
    exit(64)
}
exit(HelperMain.run(parent: parent, environment: ProcessInfo.processInfo.environment, takeover: Attacker()))
