// What a server process (and, for forking servers, its children) uses: CPU time and memory,
// read from /proc, so the load generator can report server cost per operation.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

public enum ProcessStats {
    /// CPU seconds used by `pid` and its descendants, including children that already exited.
    public static func cpuSeconds(ofTree pid: Int32) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0
        for process in tree(of: pid) {
            guard let fields = statFields(process) else { continue }
            // utime, stime; for the root also cutime, cstime (children it has reaped).
            total += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
            if process == pid { total += (Int(fields[13]) ?? 0) + (Int(fields[14]) ?? 0) }
        }
        return Double(total) / ticks
    }

    /// Resident memory in KiB of `pid` and its descendants.
    public static func residentKiB(ofTree pid: Int32) -> Int {
        tree(of: pid).reduce(0) { sum, process in
            guard let status = read("/proc/\(process)/status") else { return sum }
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                return sum + (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0)
            }
            return sum
        }
    }

    /// Bytes this process's malloc has handed out and not taken back (not page-rounded).
    package static func heapInUse() -> Int {
        Int(mallinfo2().uordblks)
    }

    /// `pid` and every live descendant.
    package static func tree(of pid: Int32) -> [Int32] {
        var parents: [Int32: [Int32]] = [:]
        if let directory = opendir("/proc") {
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                guard let child = Int32(name), let fields = statFields(child), let parent = Int32(fields[1]) else { continue }
                parents[parent, default: []].append(child)
            }
        }
        var result = [pid]
        var index = 0
        while index < result.count {
            result += parents[result[index]] ?? []
            index += 1
        }
        return result
    }

    /// The fields of /proc/PID/stat after the parenthesised command name (state is field 0).
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer.prefix(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
