import Glibc
import Synchronization

/// A mutex that a `fork()` cannot leave locked forever.
///
/// After `fork()` the child has one thread; a lock some other thread of the
/// parent held at that instant would stay locked in the child with no
/// thread to release it. Every `ForkSafeLock` is taken by the forking
/// thread just before the fork (`pthread_atfork`'s prepare handler) and
/// released after it in both processes, so in the child it is free, and
/// the data it guards is in a consistent state.
///
/// Keep critical sections short and never fork inside one.
public final class ForkSafeLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// A new unlocked mutex, registered with the fork handlers.
    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        ForkHandlers.register(mutex)
    }

    // Never deinitialized while registered: the instances are globals.

    /// Runs `body` with the lock held.
    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// The library's `pthread_atfork` handlers, installed once.
public enum ForkHandlers {
    /// The mutexes of every `ForkSafeLock`, in creation order (taken in that order).
    nonisolated(unsafe) private static var locks: [UnsafeMutablePointer<pthread_mutex_t>] = []
    /// Guards `locks`; taken first in the prepare handler.
    nonisolated(unsafe) private static let listMutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    private static let installed: Bool = {
        _ = listMutex
        return pthread_atfork(
            { ForkHandlers.prepare() }, { ForkHandlers.releaseAll() }, { ForkHandlers.childAfterFork() }) == 0
    }()
    private static let forkCount = Atomic<Int>(0)

    /// Changes in a child process after `fork()`: state tied to threads
    /// (the worker pool) is rebuilt when it differs from the value recorded
    /// with that state. The count of forks since the library was first used
    /// (0 in the original process); the process id if the handlers could not
    /// be installed (a system call each time, but still right).
    public static var generation: Int {
        installed ? forkCount.load(ordering: .acquiring) : -Int(getpid())
    }

    static func register(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        _ = installed
        pthread_mutex_lock(listMutex)
        locks.append(mutex)
        pthread_mutex_unlock(listMutex)
    }

    private static func prepare() {
        pthread_mutex_lock(listMutex)
        for m in locks { pthread_mutex_lock(m) }
    }

    private static func releaseAll() {
        for m in locks.reversed() { pthread_mutex_unlock(m) }
        pthread_mutex_unlock(listMutex)
    }

    private static func childAfterFork() {
        // The forking thread, the child's only thread, holds every lock: release them.
        releaseAll()
        forkCount.add(1, ordering: .releasing)
    }
}
