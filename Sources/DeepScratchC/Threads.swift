import DeepScratch

/// The most threads `ds_set_threads` accepts.
private let maximumThreads = 256

/// Sets the library's thread count (0: one per CPU online).
@c(ds_set_threads)
public func ds_set_threads(_ threads: Int) -> Int32 {
    guard let n = count(threads), n <= maximumThreads else {
        return fail(.invalidArgument, "threads is \(UInt(bitPattern: threads)), expected 0 (one per CPU) to \(maximumThreads)")
    }
    Parallelism.setThreads(n == 0 ? Parallelism.processorCount : n, leavingBLAS: true)
    return Status.ok.rawValue
}

/// The library's thread count, the caller's thread included.
@c(ds_get_threads)
public func ds_get_threads(_ out: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "out_threads is NULL") }
    out.pointee = Parallelism.threads
    return Status.ok.rawValue
}

/// Sets how long an idle worker thread spins before it sleeps.
@c(ds_set_spin)
public func ds_set_spin(_ microseconds: UInt32) -> Int32 {
    guard microseconds <= 1_000_000 else {
        return fail(.invalidArgument, "spin_microseconds is \(microseconds), expected 0 to 1000000")
    }
    Parallelism.setSpin(microseconds: Int(microseconds))
    return Status.ok.rawValue
}
