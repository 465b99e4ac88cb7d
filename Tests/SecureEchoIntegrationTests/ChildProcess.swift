// posix_spawn with pipes, for the processes the tests drive. (Foundation's Process leaks a
// weak reference per launch under LeakSanitizer and passes its threads' blocked-signal mask
// to children; this helper starts every child with default signals and an empty mask.)
import CSystem
import Foundation
import Glibc
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

final class ChildProcess {
    let pid: pid_t
    /// Write end of the child's stdin, or -1 once closed.
    private(set) var stdin: CInt
    /// Read end of the child's stdout.
    let stdout: CInt
    /// Read end of the child's stderr, or -1 when stderr goes to a file.
    let stderr: CInt
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`; stderr goes to `stderrPath` when given, else to a pipe.
    init(_ executable: String, _ arguments: [String], stderrPath: String? = nil, mergeStderr: Bool = false,
         environment: [String: String] = [:]) throws {
        Signals.ignoreBrokenPipe()  // writing to a child that has exited must not kill the test run
        var inPipe: [CInt] = [-1, -1], outPipe: [CInt] = [-1, -1], errPipe: [CInt] = [-1, -1]
        guard pipe2(&inPipe, O_CLOEXEC) == 0, pipe2(&outPipe, O_CLOEXEC) == 0 else {
            throw SpawnError(what: "pipe: \(String(cString: strerror(errno)))")
        }
        if stderrPath == nil, pipe2(&errPipe, O_CLOEXEC) != 0 {
            throw SpawnError(what: "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        if mergeStderr {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
        } else if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(inPipe[0])
        close(outPipe[1])
        if errPipe[1] >= 0 { close(errPipe[1]) }
        guard rc == 0 else {
            [inPipe[1], outPipe[0], errPipe[0]].filter { $0 >= 0 }.forEach { close($0) }
            throw SpawnError(what: "posix_spawn \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdin = inPipe[1]
        stdout = outPipe[0]
        stderr = errPipe[0]
    }

    deinit {
        terminate()
        closeStdin()
        close(stdout)
        if stderr >= 0 { close(stderr) }
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count && stdin >= 0 {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(stdin, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
    }

    func closeStdin() {
        if stdin >= 0 { close(stdin); stdin = -1 }
    }

    var isRunning: Bool {
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = Self.decode(status)
            return false
        }
        return true
    }

    /// Blocks until the child exits; its exit code, or 128 + the signal that ended it.
    @discardableResult
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitStatus = Self.decode(status)
        return exitStatus ?? -1
    }

    /// SIGTERM, then SIGKILL if the child is still there after `grace` seconds; reaps it.
    func terminate(grace: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(5_000) }
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

struct SpawnError: Error, CustomStringConvertible {
    let what: String
    var description: String { what }
}
