package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Thread-local lakes: every thread gets a private {@link Lake} of its own, with no lookup cost beyond one
 * {@link ThreadLocal} read (a type check and a field read on a {@link LakeThread}), from a bounded pool so
 * that threads that come and go reuse lakes instead of allocating native memory each time.
 *
 * <pre>{@code
 * ThreadLakes lakes = ThreadLakes.builder(1 << 20).poolBound(8).build();
 * lakes.init();                                  // this thread's lake: pinned (hint), then first-touched here
 * long sum = lakes.with(lake -> {                // scoped: the lake's position is restored afterwards
 *     int at = lake.allocateLongs(16);
 *     ...
 * });
 * lakes.release();                               // back to the pool (also happens when the thread dies)
 * }</pre>
 *
 * <p>Lifecycle of a lake: {@link #init()} takes one from the pool (or builds one, pre-touched by the calling
 * thread after the {@link AffinityHint} is applied, so that on a NUMA machine its pages land on that
 * thread's node), and {@link #release()} resets it and gives it back. A thread that dies without
 * {@code release()} gives its lake back too: {@link ThreadLocal} does not notice thread death, so every lease
 * is watched twice, by a scan for dead owners on {@code init()} (every one while at most 64 lakes are leased,
 * amortized above) and {@link #reap()}, and by a {@link Cleaner} on an object held only in the owning thread's
 * thread locals, which the JDK drops when the thread ends (in strict mode too, where the lake holds the thread). A lake returned to a full pool, or to closed
 * {@code ThreadLakes}, is closed: native memory never grows past the leased lakes plus the pool's bound.
 *
 * <p>Confinement: a thread's lake must not be handed to another thread ({@link Lake} is single-owner). In
 * strict mode ({@link Builder#strict(boolean)}) each lake is {@linkplain Lake#confineTo(Thread) confined} to
 * the thread it is handed to: any use of it, its views, droplets or sandboxes from another thread throws
 * {@link IllegalStateException} naming both threads, {@code buffer()} included (a buffer reference kept from before
 * is the unchecked tier, which no mode can check). Without strict mode such use is undefined (not detected).
 *
 * <p>Thread-safe: any thread may call any method; each call acts on the calling thread's own lake.
 */
public final class ThreadLakes implements AutoCloseable
{
    /** Default capacity of each thread's lake in the process-wide instance: 1 MiB, or {@code -Dlake.threadLake.capacity}. */
    public static final long DEFAULT_CAPACITY = Long.getLong("lake.threadLake.capacity", 1 << 20);

    /** Default bound of the pool of idle lakes. */
    public static final int DEFAULT_POOL_BOUND = Math.max(2, Runtime.getRuntime().availableProcessors());

    /** Largest pool bound kept in an array queue (allocated whole up front): 4,096 lakes, 16 KiB of heap at most. */
    private static final int ARRAY_POOL_MAX = 4096;

    /**
     * Leases up to which every {@link #init()} scans them all for dead owners. Above, the scan runs on one init in a
     * quarter of the leases (at most four visits per init, amortized): with virtual threads, tens of thousands of
     * leases at once are ordinary, and a scan on every init made N threads taking lakes cost O(N^2) (40,000 virtual
     * threads: 34 s, against 0.18 s without the scan). A dead owner's lake then waits for the next scan or its
     * thread's {@link Cleaner}, whichever comes first.
     */
    private static final int SCAN_EVERY_INIT = 64;

    // Strict mode confines pooled lakes to this thread, which never starts: no running thread may use them.
    private static final Thread POOLED = new Thread(() -> { }, "ThreadLakes pool (no owner)");

    private final long capacity;
    private final int poolBound;
    private final boolean autoInit;
    private final boolean strict;
    private final AffinityHint affinity;
    private final BlockingQueue<Lake> pool;
    private final Set<Lease> leases = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<Lease> local = new ThreadLocal<>();
    /**
     * Per leasing thread, the object its lease's {@link Cleaner} watches, held only here: a thread's thread locals are
     * dropped when it ends, even while its {@code Thread} object stays reachable. The Cleaner watched the
     * {@code Thread} itself, which a strict lake holds (it is confined to it) and the lease set holds the lake: in
     * strict mode a thread that died without {@link #release()} kept its lake until the next {@link #init()} or
     * {@link #reap()}, however long that took.
     */
    private final ThreadLocal<Object> deathWatch = new ThreadLocal<>();
    /** Set while {@link #init()} runs the affinity hint on this thread: the hint is user code, and may not lease. */
    private final ThreadLocal<Boolean> placing = new ThreadLocal<>();
    private final AtomicLong created = new AtomicLong();
    private final AtomicLong closedLakes = new AtomicLong();
    private final AtomicLong reclaimed = new AtomicLong();
    /** Leases the dead-owner scans looked at, all told: what the amortized scan keeps O(1) per init (tests read it). */
    private final AtomicLong leasesScanned = new AtomicLong();
    /** Inits since the last scan on {@link #init()}, once more than {@link #SCAN_EVERY_INIT} lakes are leased. */
    private final AtomicInteger initsSinceScan = new AtomicInteger();
    private volatile boolean closed;

    private ThreadLakes(final Builder builder)
    {
        this.capacity = builder.capacity;
        this.poolBound = builder.poolBound;
        this.autoInit = builder.autoInit;
        this.strict = builder.strict;
        this.affinity = builder.affinity;
        this.pool = newPool(poolBound);
        Lease.linkCallSites();
    }

    /**
     * Up to {@link #ARRAY_POOL_MAX} lakes the pool is an array queue (no garbage per offer); above, a linked queue
     * that grows as lakes come: an array queue allocates its whole array up front, which for a bound meaning
     * "unbounded" ({@code Integer.MAX_VALUE}) is an {@link OutOfMemoryError}.
     */
    private static BlockingQueue<Lake> newPool(final int bound)
    {
        return bound <= ARRAY_POOL_MAX ? new ArrayBlockingQueue<>(Math.max(1, bound)) : new LinkedBlockingQueue<>(bound);
    }

    /**
     * The process-wide instance for the one-liner {@code ThreadLakes.defaults().with(lake -> ...)}: lakes of
     * {@link #DEFAULT_CAPACITY}, a pool of {@link #DEFAULT_POOL_BOUND}, automatic init, no affinity hint.
     *
     * @return the shared instance.
     * @throws IllegalStateException naming the property if {@code -Dlake.threadLake.capacity} is out of range
     *                               (1 to {@link Lake#MAX_CAPACITY}); every call throws it, none leaves the class
     *                               unusable.
     */
    public static ThreadLakes defaults()
    {
        if (DEFAULT_CAPACITY < 1 || DEFAULT_CAPACITY > Lake.MAX_CAPACITY) // a constant: folds away once compiled
        {
            // checked here, not in the holder's initializer: a failure there is an ExceptionInInitializerError
            // once and a NoClassDefFoundError for the rest of the process
            throw new IllegalStateException("-Dlake.threadLake.capacity=" + DEFAULT_CAPACITY +
                " is out of range: a thread's lake takes 1 to " + Lake.MAX_CAPACITY + " bytes");
        }
        return Defaults.INSTANCE;
    }

    /**
     * Starts a builder.
     *
     * @param lakeCapacity capacity of each thread's lake in bytes, 1 to {@link Lake#MAX_CAPACITY}.
     * @return a builder with a pool of {@link #DEFAULT_POOL_BOUND}, no automatic init, no hint, not strict.
     * @throws IllegalArgumentException naming the value if the capacity is out of range.
     */
    public static Builder builder(final long lakeCapacity)
    {
        return new Builder(lakeCapacity);
    }

    /**
     * Gives the calling thread its lake, or returns the one it already has. A new lake is taken from the pool,
     * or built (the affinity hint applied first, then every page touched by this thread); either way it is handed
     * out reset, with no mark and no open sandbox, with zeroing off, and confined to the calling thread in strict
     * mode and to none otherwise, whatever its former owner left (a sandbox its former owner left open at its
     * start, which no rewind ends, is rolled back and ended, so the former owner's handle or token is stale; a pooled
     * lake a non-strict former owner closed after giving it back is skipped and counted in {@link Stats#closed()}).
     * Also gives
     * back the lakes of threads that died without {@link #release()} ({@link #reap()}: on every call while at most
     * 64 lakes are leased, on one call in a quarter of the leases above), and in the same scan a lease still recorded
     * for the calling thread, whose thread locals were erased (the common pool's workers on recent JDKs erase them after
     * every task), so that such a thread takes its former lake back instead of leasing one more. A thread that closed its own lake (misuse: it belongs to these thread
     * lakes) gets a new one here; until then {@link #current()} returns the closed lake, whose every use throws.
     *
     * <p>Cost: a pool poll, or one native allocation plus O(capacity) page touches; a scan of the leases while at
     * most 64 are leased, O(1) amortized above (tens of thousands of virtual threads holding lakes at once).
     *
     * @return the calling thread's lake.
     * @throws IllegalStateException if these thread lakes are closed and the calling thread holds no open lake of
     *                               theirs (a thread still holding one gets it back until it releases it), or the
     *                               affinity hint itself called {@code init()} or {@code current()} on them (nothing
     *                               is leased then).
     */
    public Lake init()
    {
        final Lease existing = held();
        if (existing != null)
        {
            if (existing.lake.isOpen())
            {
                return existing.lake;
            }
            release(); // the thread closed its own lake: give the lease back (counted as closed) and lease anew
        }
        checkOpen();
        final Thread thread = Thread.currentThread();
        reapIfDue(thread); // this thread holds no lease of ours now: one recorded for it lost its thread local
        applyAffinity();
        Lake lake = pool.poll();
        while (lake != null && !lake.isOpen())
        {
            // a non-strict former owner closed it after giving it back: count it closed, take the next
            closedLakes.incrementAndGet();
            lake = pool.poll();
        }
        if (lake == null)
        {
            lake = Lake.builder(capacity).preTouch(true).build();
            created.incrementAndGet();
        }
        // strict: this thread's; otherwise no thread's, whatever a non-strict former owner confined it to after
        // giving it back (the reset below would throw, and the polled lake be lost)
        lake.confineTo(strict ? thread : null);
        lake.reset(); // a pooled lake was reset when given back; this also undoes a non-strict former owner's misuse
        while (lake.markDepth() > 0)
        {
            lake.resetToMark(); // marks at the start survive a reset
        }
        // a non-strict former owner opened a sandbox at the start after giving the lake back: no rewind ends it, so it
        // is ended here, and the former owner's handle or token goes stale (it cannot roll the next owner's work back)
        lake.endSandboxes(0);
        lake.setZeroing(false); // as built: a former owner's switch (its reset above wiped under it) is not the next's
        final Lease lease = newLease(thread, lake);
        if (thread instanceof LakeThread && ((LakeThread)thread).lease == null)
        {
            ((LakeThread)thread).lease = lease; // the fast slot: the first ThreadLakes on this thread takes it
        }
        if (closed)
        {
            release();
            throw new IllegalStateException(this + " closed while a lake was being handed out");
        }
        return lake;
    }

    /**
     * Makes and records the lease of {@code lake} for {@code thread}. Its four heap allocations (the lease, its
     * {@link Cleaner} entry, its place in the lease set and in the {@link ThreadLocal}) may meet a full heap: the
     * lake then goes back (pooled, or closed if the lease itself was refused) instead of being lost, leased to no
     * one, until the leak safety net frees it.
     */
    private Lease newLease(final Thread thread, final Lake lake)
    {
        Lease lease = null;
        try
        {
            final Object watched = new Object();
            lease = new Lease(this, thread, lake);
            lease.cleanable = NativeMemory.cleaner().register(watched, lease::giveBack);
            leases.add(lease);
            local.set(lease);
            deathWatch.set(watched);
            return lease;
        }
        catch (final Throwable refused)
        {
            local.remove(); // this thread had no lease of ours (init() checked): nothing else is lost
            deathWatch.remove();
            if (lease == null)
            {
                closeLake(lake);
            }
            else if (lease.cleanable != null)
            {
                lease.cleanable.clean(); // gives the lake back once, and deregisters
            }
            else
            {
                lease.giveBack();
            }
            throw refused;
        }
    }

    /**
     * The calling thread's lake. O(1): one {@link ThreadLocal} read, or on a {@link LakeThread} whose lake
     * came from these thread lakes, a type check and a field read.
     *
     * @return the lake.
     * @throws IllegalStateException if the thread has no lake and automatic init is off ("call init() first").
     */
    public Lake current()
    {
        return lease().lake;
    }

    /**
     * Runs the affinity hint, refusing a hint that calls back into these thread lakes on the thread it places: its
     * inner {@link #init()} would lease a lake that the outer one then overwrites, lost until the thread dies (or,
     * with no guard in the hint, recurse until the stack overflows).
     */
    private void applyAffinity()
    {
        if (placing.get() != null)
        {
            throw new IllegalStateException(this + ": the affinity hint called init() or current() on the thread " +
                "it is placing; a hint must not use these thread lakes");
        }
        placing.set(Boolean.TRUE);
        try
        {
            affinity.applyToCurrentThread();
        }
        finally
        {
            placing.remove();
        }
    }

    /** The calling thread's lease, or null: a field read on a {@link LakeThread} that holds ours, else the ThreadLocal. */
    private Lease held()
    {
        final Thread thread = Thread.currentThread();
        if (thread instanceof LakeThread)
        {
            final Lease fast = ((LakeThread)thread).lease;
            if (fast != null && fast.lakes == this)
            {
                return fast;
            }
        }
        return local.get();
    }

    /** The calling thread's lease ({@link #held()}), or an init when configured. */
    private Lease lease()
    {
        final Lease lease = held();
        if (lease != null)
        {
            return lease;
        }
        if (autoInit)
        {
            init();
            return held();
        }
        throw new IllegalStateException(
            "no thread lake on " + Thread.currentThread().getName() + ": call init() first, or build with autoInit(true)");
    }

    /**
     * Runs {@code work} on the calling thread's lake and restores the lake's position afterwards, whether it
     * returns or throws: scratch allocations made inside are given back. {@code work} runs inside a sandbox of
     * this call's own (a token, no object), rolled back after: sandboxes {@code work} leaves open are rolled back and
     * ended first, innermost first, as {@link Lake#endSandboxes} does, and marks it leaves pushed are discarded.
     * Inside, {@code openSandboxes()} counts that sandbox, and a sandbox of the lake opened before the call cannot
     * be committed, rolled back, closed or allocated through ({@code IllegalStateException}, nothing changes: a
     * sandbox is open inside it; a view's sandboxes are the view's own). A body that ends the call's sandbox itself,
     * by a rewind below the call's start (an older mark or snapshot, {@code reset()}) or by
     * {@code endSandboxes} below its depth, takes the scope over: what it allocates and opens after that is its own
     * to give back and end. Nests: an inner {@code with} restores to its own start. Allocates nothing beyond what
     * {@code work} does (use a non-capturing lambda); takes one sandbox token id per call.
     *
     * @param work what to do with the lake.
     * @param <R>  the result type.
     * @return what {@code work} returned.
     * @throws IllegalStateException as {@link #current()}, or if sandbox tokens already nest
     *                               {@link Lake#MAX_TOKEN_DEPTH} deep on the lake.
     */
    public <R> R with(final Function<Lake, R> work)
    {
        final Lease lease = lease(); // one lookup: the lake, and the identity the finally checks
        final Lake lake = lease.lake;
        // work runs inside a sandbox of with()'s own, not after a mark: everything work opens nests above it, and
        // work cannot commit, roll back or close a sandbox opened before with() (refused while an inner one is open),
        // so what lies at or above this depth afterwards is work's and with()'s, unless work itself ended with()'s
        // sandbox (a rewind below its start, endSandboxes below its depth: documented, the body then owns what it
        // opens). With a mark and a count of open sandboxes, a body that ended the caller's sandbox and left one of
        // its own open kept the count, and its sandbox stayed open (NineteenthReviewLakeTest).
        final int depth = lake.openSandboxes();
        lake.beginSandbox();
        try
        {
            return work.apply(lake);
        }
        finally
        {
            // only if the lake is still this thread's: work may have released it (then it may be another's now)
            if (held() == lease && lake.isOpen())
            {
                // innermost first: work's sandboxes, then with()'s own (back to the start, the marks cut back)
                lake.endSandboxes(depth);
            }
        }
    }

    /**
     * Runs {@code work} on the calling thread's lake and keeps what it allocated: the position stays where
     * {@code work} left it. The choice to keep is explicit in the name.
     *
     * @param work what to do with the lake.
     * @param <R>  the result type.
     * @return what {@code work} returned.
     * @throws IllegalStateException as {@link #current()}.
     */
    public <R> R withKept(final Function<Lake, R> work)
    {
        return work.apply(lease().lake);
    }

    /**
     * Gives the calling thread's lake back: it is reset (marks dropped, position 0) and pooled, or closed if the
     * pool is full. Every droplet, view and sandbox of it becomes invalid. Does nothing if the thread has none.
     */
    public void release()
    {
        final Lease lease = held();
        if (lease == null)
        {
            return;
        }
        // The give-back first, while the lease is still this thread's: cut short (a StackOverflowError) before the lake
        // left, it undoes its claim and the lease stays whole (thread local, lease set, Cleaner), so a retried release()
        // gives the lake back. The thread local went first before, and the Cleaner's clean() spent the claim: a
        // give-back cut short there left the lake in no place, for good. It is also the deepest call here, so the
        // shallower calls after it find the stack it needed.
        try
        {
            lease.giveBack();
        }
        catch (final Throwable cutShort)
        {
            // Thrown after the lake left (an overflow that the JDK's reserved stack delays to the end of the pool's
            // offer, seen in compiled code on JDK 25): the claim stays, and this thread must not keep a lake that is
            // already another thread's next. Before the hand-over the claim was undone and the lease stays whole.
            if (lease.isClaimed())
            {
                forgetLease(lease);
            }
            throw cutShort;
        }
        forgetLease(lease);
    }

    /** Drops the calling thread's record of a lease given back: its thread local and its Cleaner entry. */
    private void forgetLease(final Lease lease)
    {
        local.remove();
        lease.cleanable.clean(); // only deregisters: the lake is given back
        deathWatch.remove(); // after the clean: dropped before, the Cleaner could give the lake back on its own thread
    }

    /**
     * The scan of {@link #init()}: on every init while at most {@link #SCAN_EVERY_INIT} lakes are leased, else on one
     * init in a quarter of the leases, so that an init costs O(1) amortized however many threads hold lakes.
     */
    private void reapIfDue(final Thread caller)
    {
        final int held = leases.size();
        if (held <= SCAN_EVERY_INIT)
        {
            scan(caller); // no shared counter written: thread pools' inits pay what they paid before
        }
        else if (initsSinceScan.incrementAndGet() >= held >>> 2)
        {
            initsSinceScan.set(0); // racing inits may scan together: each scan is still right, and the total bounded
            scan(caller);
        }
    }

    /**
     * Gives back the lakes of threads that ended without {@link #release()}. Runs on {@link #init()}: on every one
     * while at most 64 lakes are leased, on one in a quarter of the leases above (a dead thread's lake also comes
     * back through a {@link Cleaner} once the thread has ended and a GC has run); call it to reclaim sooner.
     * O(leases).
     *
     * @return how many lakes were reclaimed.
     */
    public int reap()
    {
        return scan(null);
    }

    /**
     * {@link #reap()}, also giving back the leases of {@code orphaned}: {@link #init()} passes its caller, which holds
     * no lease of ours by then, so a lease still recorded for it lost its {@code ThreadLocal} entry. The common pool's
     * workers (JDK 19+) erase their thread locals after every task, and each task's {@code with()} leased another lake
     * while the erased lease stayed leased to a live thread until a GC ran its {@link Cleaner}.
     *
     * @return how many lakes of dead threads were reclaimed (orphans of a live thread are not counted).
     */
    private int scan(final Thread orphaned)
    {
        int count = 0;
        int scanned = 0;
        for (final Lease lease : leases)
        {
            scanned++;
            final Thread thread = lease.thread.get();
            final boolean dead = thread == null || !thread.isAlive();
            if ((dead || thread == orphaned) && lease.giveBack())
            {
                lease.cleanable.clean(); // only deregisters: the lease is given back already
                if (dead)
                {
                    count++; // counted by the one caller (reaper or Cleaner) that gave it back
                }
            }
        }
        leasesScanned.addAndGet(scanned);
        return count;
    }

    /** @return how many leases the scans for dead owners ({@link #reap()}, and {@link #init()}'s) looked at. */
    long leasesScanned()
    {
        return leasesScanned.get();
    }

    /**
     * @return counts of leased, pooled, created, closed and reclaimed lakes.
     */
    public Stats stats()
    {
        return new Stats(leases.size(), pool.size(), created.get(), closedLakes.get(), reclaimed.get());
    }

    /**
     * @return the capacity of each lake.
     */
    public long lakeCapacity()
    {
        return capacity;
    }

    /**
     * @return the most idle lakes kept for reuse.
     */
    public int poolBound()
    {
        return poolBound;
    }

    /**
     * Closes every pooled lake and the lakes of threads that already died without {@link #release()} (a
     * {@link #reap()}: O(leases); on a heap too full for the scan those are left to the {@code Cleaner}, as a dead
     * thread's lake always is); lakes still leased to live threads are closed when those threads release them or
     * die. Later {@link #init()} calls throw, except on a thread that still holds its lake: it gets that lake back
     * until it releases it (its lease outlives the close, as above). Idempotent.
     */
    @Override
    public void close()
    {
        closed = true;
        drainPool();
        // a dead thread's lake would otherwise wait for the Cleaner (the first GC after the thread ended) and free its
        // memory at some unrelated moment: closed now, while the caller is closing. Best effort, after the close's own
        // work: a full heap refusing the scan's iterator leaves those lakes to the Cleaner, as before, and close() done
        try
        {
            scan(null);
        }
        catch (final OutOfMemoryError refused)
        {
            // the Cleaner still gives each of them back once a GC has run
        }
    }

    @Override
    public String toString()
    {
        return "ThreadLakes[" + capacity + " B per thread, pool " + poolBound + (closed ? ", closed]" : "]");
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private void drainPool()
    {
        Lake lake;
        while ((lake = pool.poll()) != null)
        {
            closeLake(lake);
        }
    }

    /**
     * Closes a lake and counts it closed. Counted once it is closed even if {@code close()} then throws: on a full
     * heap the close can fail after the lake is marked closed (its region then goes to the safety net), and the lake,
     * closed but not counted, broke "created = closed + pooled" once everything is given back.
     */
    private void closeLake(final Lake lake)
    {
        lake.confineTo(null); // a pooled lake is confined to no running thread: lift it so this thread may close
        try
        {
            lake.close();
        }
        finally
        {
            if (!lake.isOpen())
            {
                closedLakes.incrementAndGet();
            }
        }
    }

    /**
     * Gives the lake of {@code lease} back: pooled, or closed. Everything before the hand-over (the rewinds, the
     * confinement, the lease's removal from the set and the owner's slot) may be done again, so that a call cut short
     * there (a {@code StackOverflowError}) can undo the lease's claim ({@link Lease#giveBack()}) and be retried whole;
     * the pool's {@code offer} is the one step that is not undone once entered ({@link Lease#handedOver}), a close is
     * counted once however often it is retried, and the other counters follow the hand-over.
     */
    private void giveBack(final Lease lease, final Thread owner, final boolean ownerDied)
    {
        final Lake lake = lease.lake;
        if (!lake.isOpen())
        {
            forget(lease, owner);
            // closed by its owner (misuse), or by a give-back of this lease that was cut short after the close
            countClosedOnce(lease);
            lease.handedOver = true;
            countGivenBack(ownerDied);
            return;
        }
        lake.confineTo(null); // the owner is gone or done: this thread cleans up, the next owner confines again
        while (lake.markDepth() > 0)
        {
            lake.resetToMark();
        }
        lake.reset();
        // A sandbox opened at the lake's start survives every rewind (nothing lies below it): ended here, or the next
        // owner would inherit it open and the former owner's handle would still roll the next owner's work back.
        // Ended, its handle and token go stale, and the lake is pooled (it was closed before endSandboxes existed;
        // with() opens its own sandbox at its start, so a release inside with() would have cost the pool its lake).
        lake.endSandboxes(0);
        final boolean clean = lake.openSandboxes() == 0;
        if (strict)
        {
            lake.confineTo(POOLED); // while it waits in the pool no thread may use it, its former owner included
        }
        // out of the set only now: a give-back cut short above leaves the lease recorded, for the scans to find
        forget(lease, owner);
        boolean pooled = false;
        if (!closed && poolBound != 0 && clean)
        {
            // once offer is entered the lake may be in the pool, another thread's next: a failure from here on must
            // not undo the claim (a retry would pool it twice)
            lease.handedOver = true;
            pooled = pool.offer(lake);
            lease.handedOver = pooled;
        }
        if (!pooled)
        {
            // a close cut short before it freed leaves the lake open and the claim undone: the retry closes it
            // (Lake.close() is retried safely); cut short after, the retry finds it closed and counts it once
            lake.confineTo(null);
            try
            {
                lake.close();
            }
            finally
            {
                if (!lake.isOpen())
                {
                    countClosedOnce(lease);
                }
            }
            lease.handedOver = true;
        }
        countGivenBack(ownerDied);
        if (closed)
        {
            drainPool(); // a close() that raced with the offer above
        }
    }

    /** Takes the lease out of the lease set and out of its owner's {@link LakeThread} slot (both may be done again). */
    private void forget(final Lease lease, final Thread owner)
    {
        leases.remove(lease);
        if (owner instanceof LakeThread && ((LakeThread)owner).lease == lease)
        {
            ((LakeThread)owner).lease = null; // the owner is this thread (release) or dead: no race on the slot
        }
    }

    /**
     * Counts the lease's lake closed unless a give-back of this lease cut short after its close counted it: the flag is
     * stored after the increment, which makes no call once its add is done, so a retry neither counts it twice nor
     * misses it.
     */
    private void countClosedOnce(final Lease lease)
    {
        if (!lease.countedClosed)
        {
            closedLakes.incrementAndGet();
            lease.countedClosed = true;
        }
    }

    private void countGivenBack(final boolean ownerDied)
    {
        if (ownerDied)
        {
            reclaimed.incrementAndGet();
        }
    }

    /**
     * What {@link #stats()} reports.
     *
     * @param leased    lakes held by threads now.
     * @param pooled    idle lakes waiting for a thread.
     * @param created   lakes built so far.
     * @param closed    lakes closed so far (pool full, or these thread lakes closed).
     * @param reclaimed lakes given back because their thread died without {@code release()}.
     */
    public record Stats(int leased, int pooled, long created, long closed, long reclaimed)
    {
    }

    /** One thread's hold on one lake; given back exactly once. */
    static final class Lease
    {
        private final ThreadLakes lakes;
        private final WeakReference<Thread> thread;
        /** 0 until a give-back claims the lease, 1 after; back to 0 if that give-back was cut short before the hand-over. */
        private static final AtomicIntegerFieldUpdater<Lease> RETURNED =
            AtomicIntegerFieldUpdater.newUpdater(Lease.class, "returned");

        private final Lake lake;
        private volatile int returned;
        /**
         * Set by the give-back once the lake may have left (entered the pool's offer, or closed): from then on a
         * failure keeps the claim. Written and read by the thread giving back only.
         */
        boolean handedOver;
        /** Whether this lease's lake was counted closed ({@link #countClosedOnce}). Written by the thread giving back. */
        boolean countedClosed;
        private Cleaner.Cleanable cleanable;

        Lease(final ThreadLakes owner, final Thread thread, final Lake lake)
        {
            this.lakes = owner;
            this.thread = new WeakReference<>(thread);
            this.lake = lake;
        }

        /**
         * Loads and links, on the builder's heap, what {@link #giveBack()} would otherwise load the first time it runs
         * in the JVM (the claim's updater; it was {@code AtomicBoolean.compareAndSet}'s {@code VarHandle} call site).
         * Linked there on a full heap, the refusal came after {@code release()} had taken the lease out of the thread
         * and spent its one-shot {@link Cleaner} entry: the lake was left leased to no one (neither pooled nor closed)
         * and a retry found no lease to give back.
         */
        static void linkCallSites()
        {
            RETURNED.compareAndSet(new Lease(null, Thread.currentThread(), null), 0, 1);
        }

        /** @return whether a give-back has claimed this lease and kept the claim (the lake left, or is leaving). */
        boolean isClaimed()
        {
            return returned != 0;
        }

        /**
         * Gives the lake back once; returns whether this call did it. A give-back cut short (a
         * {@code StackOverflowError}, or any other throwable) before the lake left undoes the claim with a store (no
         * call, which the error could cut short again), so the lease can be given back again: the claim used to stay,
         * and every later give-back (a retried release, the scans, the Cleaner) was refused while the lake sat in no
         * place.
         */
        boolean giveBack()
        {
            if (RETURNED.compareAndSet(this, 0, 1))
            {
                try
                {
                    final Thread owner = thread.get();
                    lakes.giveBack(this, owner, owner == null || !owner.isAlive());
                    return true;
                }
                catch (final Throwable cutShort)
                {
                    if (!handedOver)
                    {
                        returned = 0;
                    }
                    throw cutShort;
                }
            }
            return false;
        }
    }

    /** Holder of the process-wide instance, built on first use. */
    private static final class Defaults
    {
        static final ThreadLakes INSTANCE = builder(DEFAULT_CAPACITY).autoInit(true).build();
    }

    /**
     * Builder of {@link ThreadLakes}.
     */
    public static final class Builder
    {
        private final long capacity;
        private int poolBound = DEFAULT_POOL_BOUND;
        private boolean autoInit;
        private boolean strict;
        private AffinityHint affinity = AffinityHint.none();

        private Builder(final long capacity)
        {
            this.capacity = Region.checkSize(capacity, Lake.MAX_CAPACITY, "thread lake capacity");
        }

        /**
         * @param bound most idle lakes kept for reuse; 0 closes every lake that is given back;
         *              {@code Integer.MAX_VALUE} for no bound (the pool takes heap for the lakes it holds, not
         *              for its bound).
         * @return this builder.
         * @throws IllegalArgumentException if {@code bound} is negative.
         */
        public Builder poolBound(final int bound)
        {
            if (bound < 0)
            {
                throw new IllegalArgumentException("pool bound must not be negative: " + bound);
            }
            this.poolBound = bound;
            return this;
        }

        /**
         * @param autoInit whether {@link #current()} initialises a thread's lake on first use instead of throwing.
         * @return this builder.
         */
        public Builder autoInit(final boolean autoInit)
        {
            this.autoInit = autoInit;
            return this;
        }

        /**
         * @param strict whether each lake is confined to its thread, so that use from another thread throws.
         * @return this builder.
         */
        public Builder strict(final boolean strict)
        {
            this.strict = strict;
            return this;
        }

        /**
         * @param hint where a thread taking a lake would like to run; applied before the lake is first touched.
         * @return this builder.
         */
        public Builder affinity(final AffinityHint hint)
        {
            this.affinity = Objects.requireNonNull(hint, "hint");
            return this;
        }

        /**
         * @return the configured thread lakes.
         */
        public ThreadLakes build()
        {
            return new ThreadLakes(this);
        }
    }
}
