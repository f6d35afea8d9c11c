import Glibc
import Synchronization

/// The engine's threads: the calling thread plus `threads − 1` workers that
/// run the pieces of a split matrix product or element-wise loop.
///
/// OpenBLAS itself runs single-threaded: the engine splits each large
/// product into one row block per thread, so one set of threads serves both
/// the products and the loops between them (OpenBLAS's own threads would
/// spin on the second core while the loops ran). The split depends only on
/// the thread count, so results are bit-identical run to run.
///
/// Thread-safe: a caller that finds the pool busy (another thread is using
/// it) runs all pieces itself.
public final class WorkerPool: @unchecked Sendable {
    /// Number of threads a parallel call uses, the caller included.
    public private(set) var threads: Int

    /// The name of every worker thread.
    public static let threadName = "ds-worker"

    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    /// Workers that have named themselves and entered their loop.
    private let started = Atomic<Int>(0)
    private var body: ((Int) -> Void)?
    /// The job of `run(_ job:)`: where it is (on the caller's stack) and its
    /// type, through which the workers call it.
    private var job: UnsafeRawPointer?
    private var jobType: (any ParallelJob.Type)?
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var sleepers = 0
    private var workers: [pthread_t] = []

    /// A pool of `threads` threads in all (at least 1; fewer if the system
    /// refuses to create more).
    public init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threads {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let ctx = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                nameThisThread(WorkerPool.threadName)
                ctx.pool.started.add(1, ordering: .releasing)
                ctx.pool.workerLoop(index: ctx.index)
                return nil
            }, context)
            guard rc == 0 else { Unmanaged<WorkerContext>.fromOpaque(context).release(); break }
            workers.append(thread)
        }
        // A job has one piece per thread: only as many as were created.
        self.threads = workers.count + 1
        // Returns once every worker runs under its name, so that what a host
        // sees (its threads, their names) is settled when the pool exists.
        while started.load(ordering: .acquiring) < workers.count { sched_yield() }
    }

    /// Waits for a job running on this pool (on another thread) to finish,
    /// then stops and joins the workers (they hold the pool alive until
    /// then). Later calls of `run` on this pool run every piece on the
    /// calling thread.
    func shutdown() {
        while !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { sched_yield() }
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        workers = []
    }

    deinit {
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body(0) … body(threads − 1)` at once, one piece per thread,
    /// and returns when all are done.
    ///
    /// Handing a closure to other threads costs one small heap allocation
    /// per call (`withoutActuallyEscaping`); the training step's loops use
    /// `run(_ job:)`, which allocates nothing.
    public func run(_ body: (Int) -> Void) {
        let n = workers.count + 1
        if n == 1 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            startWorkers(n)
            escaping(0)
            waitForWorkers()
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Runs `job.run(piece: 0) … job.run(piece: threads − 1)` at once, one
    /// piece per thread, and returns when all are done. Allocates nothing:
    /// the workers read the job where it lies on the caller's stack.
    public func run<J: ParallelJob>(_ job: J) {
        let n = workers.count + 1
        if n == 1 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for i in 0..<n { job.run(piece: i) }
            return
        }
        withUnsafePointer(to: job) { pointer in
            self.job = UnsafeRawPointer(pointer)
            self.jobType = J.self
            startWorkers(n)
            pointer.pointee.run(piece: 0)
            waitForWorkers()
            self.job = nil
            self.jobType = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Wakes the workers for the work just published (`body` or `job`).
    private func startWorkers(_ n: Int) {
        remaining.store(n - 1, ordering: .relaxed)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        if sleepers > 0 { pthread_cond_broadcast(&wake) }
        pthread_mutex_unlock(&mutex)
    }

    /// Spins until every worker has finished its piece.
    private func waitForWorkers() {
        var spins = 0
        while remaining.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            // Spin for up to `Parallelism.spinNanoseconds` (the next piece
            // usually follows within microseconds during training), then sleep.
            var current = generation.load(ordering: .acquiring)
            let limit = Parallelism.spinNanoseconds
            if current == seen && limit > 0 {
                let start = monotonicNanoseconds()
                var spins = 0
                while current == seen {
                    spins &+= 1
                    if spins & 63 == 0 && monotonicNanoseconds() - start >= limit { break }
                    current = generation.load(ordering: .acquiring)
                }
            }
            if current == seen {
                pthread_mutex_lock(&mutex)
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&wake, &mutex) }
                sleepers -= 1
                pthread_mutex_unlock(&mutex)
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            if let jobType, let job { jobType.run(at: job, piece: index) } else { body?(index) }
            remaining.subtract(1, ordering: .releasing)
        }
    }
}

/// Names the calling thread (at most 15 bytes): the name a host sees in
/// top, gdb and /proc/PID/task/TID/comm. Linux only (pthread_setname_np
/// needs _GNU_SOURCE, which Swift's Glibc module does not define);
/// elsewhere, or without /proc, the thread keeps its name.
func nameThisThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = name.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, min(15, $0.count - 1)) }
    close(fd)
}

/// Nanoseconds on the monotonic clock.
@inline(__always)
func monotonicNanoseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}

/// The engine's threads for matrix products and large loops: one pool per
/// process, made at first use with one thread per CPU (or the count given
/// to `setThreads`), and made anew in a child process after `fork()` (the
/// parent's workers do not exist there).
///
/// OpenBLAS: while the pool has more than one thread, the engine splits
/// products itself and calls OpenBLAS from several threads at once, so it
/// sets OpenBLAS's (process-wide) thread count to 1. With one thread it does
/// the same unless asked to leave OpenBLAS alone (`setThreads(_:leavingBLAS:)`,
/// what the C library's ds_set_threads does for its host): then OpenBLAS's
/// count is the one the engine found (restored if the engine had set it).
public enum Parallelism {
    private static let lock = ForkSafeLock()
    nonisolated(unsafe) private static var shared: WorkerPool?
    /// `ForkHandlers.generation` when `shared` was made.
    nonisolated(unsafe) private static var sharedGeneration = 0
    /// The thread count `setThreads` asked for (nil: one per CPU).
    nonisolated(unsafe) private static var requested: Int?
    /// Whether a one-thread pool leaves OpenBLAS's thread count alone (the default pool does).
    nonisolated(unsafe) private static var leaveBLAS = true
    /// OpenBLAS's thread count before the engine set it to 1 (nil: not set).
    nonisolated(unsafe) private static var blasThreadsFound: Int?
    private static let spin = Atomic<Int>(defaultSpinMicroseconds * 1000)

    /// How long an idle worker spins for the next piece of work before it
    /// sleeps, unless `setSpin` says otherwise.
    public static let defaultSpinMicroseconds = 50

    /// The pool in use (made on first use, and again after a fork).
    static var pool: WorkerPool {
        lock.withLock {
            let generation = ForkHandlers.generation
            if let p = shared, sharedGeneration == generation { return p }
            // First use, or the first in a child process: the parent's pool,
            // whose threads exist only in the parent, is left alone.
            let p = makePool(requested ?? processorCount, leavingBLAS: leaveBLAS)
            shared = p
            sharedGeneration = generation
            return p
        }
    }

    /// A pool of `threads`, with OpenBLAS's thread count set as the type's
    /// documentation says. Called with `lock` held.
    private static func makePool(_ threads: Int, leavingBLAS: Bool) -> WorkerPool {
        if threads > 1 || !leavingBLAS {
            if blasThreadsFound == nil { blasThreadsFound = BLASThreads.current }
            BLASThreads.set(1)
        } else if let found = blasThreadsFound {
            BLASThreads.set(found)
            blasThreadsFound = nil
        }
        return WorkerPool(threads: threads)
    }

    /// Sets the number of threads (at least 1; 1 = the calling thread only)
    /// for every later computation. Safe at any time: a computation already
    /// running finishes on the old threads, which then end.
    /// - Parameter leavingBLAS: with one thread, leave OpenBLAS's own thread
    ///   count as the engine found it (else it is set to 1, as with several).
    public static func setThreads(_ n: Int, leavingBLAS: Bool = false) {
        let old = lock.withLock { () -> WorkerPool? in
            requested = max(1, n)
            leaveBLAS = leavingBLAS
            let generation = ForkHandlers.generation
            let old = sharedGeneration == generation ? shared : nil
            shared = makePool(max(1, n), leavingBLAS: leavingBLAS)
            sharedGeneration = generation
            return old
        }
        old?.shutdown()
    }

    /// The number of threads in use.
    public static var threads: Int { pool.threads }

    /// Sets how long (microseconds, at least 0) an idle worker spins waiting
    /// for the next piece of work before it sleeps; 0 sleeps at once.
    /// Spinning saves the wake-up latency between the many short parallel
    /// steps of training, at the price of up to that much CPU time per
    /// worker after each.
    public static func setSpin(microseconds: Int) {
        spin.store(max(0, min(microseconds, 10_000_000)) * 1000, ordering: .relaxed)
    }

    /// The spin limit in nanoseconds.
    static var spinNanoseconds: Int { spin.load(ordering: .relaxed) }

    /// The number of CPUs online.
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Calls `body(i)` for every `i` in `0 ..< count`, spread over the
    /// engine's threads, each taking the next unclaimed item (for items of
    /// uneven cost, such as pictures to decode); returns when all are done.
    /// Work `body` itself splits runs on its own thread only.
    public static func forEachItem(_ count: Int, _ body: (Int) -> Void) {
        let next = Atomic<Int>(0)
        pool.run { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= count { break }
                body(i)
            }
        }
    }
}

/// Work that the pool's threads run together: `run(piece:)` is called once
/// for each piece `0 ..< threads`, at the same time on different threads.
public protocol ParallelJob {
    /// Does piece `piece` of the work.
    func run(piece: Int)
}

extension ParallelJob {
    /// Runs piece `piece` of the job of this type stored at `job`: how a
    /// worker calls a job whose type it learns at run time.
    static func run(at job: UnsafeRawPointer, piece: Int) {
        job.assumingMemoryBound(to: Self.self).pointee.run(piece: piece)
    }
}

/// A loop over part of `0..<count`, which `parallelRanges` splits across
/// the engine's threads.
protocol RangeJob {
    /// Does the work of the indices in `range`.
    func run(_ range: Range<Int>)
}

/// `job` over `0..<count`, one contiguous range per piece.
struct RangeSplit<J: RangeJob>: ParallelJob {
    let job: J
    let count: Int
    let chunk: Int
    let pieces: Int

    func run(piece i: Int) {
        let lo = min(count, i * chunk), hi = min(count, lo + chunk)
        if i < pieces && lo < hi { job.run(lo..<hi) }
    }
}

/// Runs `job` over `0..<count` split into one contiguous range per thread,
/// each a multiple of `granularity` long (the last may be shorter). Small
/// counts run on the calling thread. Allocates nothing.
@inline(__always)
func parallelRanges<J: RangeJob>(_ count: Int, minimumPerThread: Int = 1 << 14, granularity: Int = 16, _ job: J) {
    let pool = Parallelism.pool
    let pieces = min(pool.threads, count / max(1, minimumPerThread))
    if pieces <= 1 { job.run(0..<count); return }
    let chunk = ((count + pieces - 1) / pieces + granularity - 1) / granularity * granularity
    pool.run(RangeSplit(job: job, count: count, chunk: chunk, pieces: pieces))
}

/// Runs `body(range)` over `0..<count` split into one contiguous range per
/// thread, each a multiple of `granularity` long (the last may be shorter).
/// Small counts run on the calling thread.
@inline(__always)
func parallelRanges(_ count: Int, minimumPerThread: Int = 1 << 14, granularity: Int = 16,
                    _ body: (Range<Int>) -> Void) {
    let pool = Parallelism.pool
    let pieces = min(pool.threads, count / max(1, minimumPerThread))
    if pieces <= 1 { body(0..<count); return }
    let chunk = ((count + pieces - 1) / pieces + granularity - 1) / granularity * granularity
    pool.run { i in
        let lo = min(count, i * chunk), hi = min(count, lo + chunk)
        if i < pieces && lo < hi { body(lo..<hi) }
    }
}
