package dev.lake.pool;

import dev.lake.memory.LakeLog;

import org.jctools.queues.atomic.MpscUnboundedAtomicArrayQueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Requests waiting for capacity, shared by both arena kinds.
 *
 * <p>One JCTools {@link MpscUnboundedAtomicArrayQueue} per size class (the buddy arena's orders; one class for
 * the fixed arena), each FIFO. The atomic variants use no {@code sun.misc.Unsafe}. They are single-consumer:
 * only the dispatcher polls, and a work-in-progress counter ({@link #drain()}) makes sure exactly one thread is
 * the dispatcher at a time and that every signal raised while it runs causes one more pass, so no signal is
 * lost. JCTools queues have no {@code remove}: a cancelled or timed-out request stays queued as a tombstone (its
 * future is done) and the dispatcher drops it when it reaches the head, or, when tombstones pile up behind a
 * request that keeps waiting, moves the live requests aside in order and drops the rest (bounded memory).
 *
 * <p>Fairness: every request takes a ticket. The dispatcher serves the oldest live request over all classes
 * first and stops at the first one that cannot be satisfied (head-of-line), so a large request is never
 * overtaken by smaller ones that arrived after it. While any request waits, the arenas' immediate paths refuse
 * (the gate, {@link #hasWaiters()}): capacity freed meanwhile is reserved for the queue in arrival order, so a
 * stream of small allocations cannot starve a large waiter.
 *
 * <p>Lost wake-ups: a waiter is counted and queued first and then runs a dispatch pass itself (the re-check); a
 * release frees its capacity first and then reads the waiter count. Both are sequentially consistent atomics,
 * so either the release sees the waiter or the waiter's pass sees the capacity.
 */
final class WaitQueue
{
    /** Claims capacity for a waiter, ignoring the gate. */
    interface Grantor
    {
        /**
         * @param sizeClass the waiter's class.
         * @param size      the bytes it asked for.
         * @return a buffer, or {@code null} when there is no capacity for it right now (or the arena is closed).
         */
        Buffer grant(int sizeClass, int size);
    }

    private static final int CHUNK = 64;
    private static final VarHandle WAITERS;

    static
    {
        try
        {
            WAITERS = MethodHandles.lookup().findVarHandle(WaitQueue.class, "waiters", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final String name;
    private final MpscUnboundedAtomicArrayQueue<Waiter>[] queues;
    /**
     * Per class, live requests the dispatcher moved out of its queue to drop the tombstones between them; older
     * than everything still in the queue. Touched by the dispatcher only (the work-in-progress counter orders
     * successive dispatchers).
     */
    private final ArrayDeque<Waiter>[] compacted;
    private final Grantor grantor;
    private final Executor executor;
    /** Requests waiting now: read on every immediate allocation and release, so a field here, not an object. */
    private volatile int waiters;
    private final AtomicInteger wip = new AtomicInteger();
    /** The thread running a dispatch pass, for {@link #close()} (null between passes). */
    private volatile Thread dispatcher;
    /** Whether that pass is a {@link #close()}'s own. */
    private volatile boolean closingPass;
    private final AtomicLong tickets = new AtomicLong();
    private final LongAdder completed = new LongAdder();
    private final LongAdder timedOut = new LongAdder();
    private final LongAdder cancelled = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private volatile boolean closed;

    @SuppressWarnings("unchecked")
    WaitQueue(final String name, final int sizeClasses, final Grantor grantor, final Executor executor)
    {
        this.name = name;
        this.grantor = grantor;
        this.executor = executor;
        this.queues = new MpscUnboundedAtomicArrayQueue[sizeClasses];
        this.compacted = new ArrayDeque[sizeClasses];
        for (int i = 0; i < sizeClasses; i++)
        {
            queues[i] = new MpscUnboundedAtomicArrayQueue<>(CHUNK);
            compacted[i] = new ArrayDeque<>();
        }
    }

    /**
     * The gate of the immediate allocation paths: one volatile read.
     *
     * @return whether any request is waiting now.
     */
    boolean hasWaiters()
    {
        return waiters != 0;
    }

    int waiters()
    {
        return waiters;
    }

    /** After capacity was freed: serve waiters, if any. One volatile read when none wait. */
    void signal()
    {
        if (waiters != 0)
        {
            drain();
        }
    }

    /**
     * Queues a request and runs a dispatch pass (the re-check that closes the lost-wake-up race).
     *
     * @return the future the request completes.
     */
    CompletableFuture<Buffer> enqueue(final int sizeClass, final int size)
    {
        // The request and its completion stage come from the heap before it takes a ticket or counts: an
        // OutOfMemoryError there leaves nothing behind.
        final Waiter waiter = new Waiter(this, sizeClass, size, System.nanoTime());
        waiter.whenComplete((buffer, error) -> ended(waiter, buffer, error));
        waiter.ticket = tickets.getAndIncrement(); // published to the dispatcher by the queue's offer
        WAITERS.getAndAdd(this, 1);
        try
        {
            // allocates the queue's next chunk every CHUNK requests; refused (OutOfMemoryError), it publishes nothing
            queues[sizeClass].offer(waiter);
        }
        catch (final Throwable t)
        {
            // never queued, so nobody would ever end it: it must not count as waiting (the gate would stay shut)
            uncount(waiter);
            failed.increment(); // its ticket ended: once quiet, every request still has exactly one outcome
            throw t;
        }
        drain();
        return waiter;
    }

    /**
     * Fails every waiter, now and any that races in: called by the arena's {@code close()}, and again by each later
     * {@code close()} (nothing to do once none waits).
     *
     * @param first whether this is the arena's first {@code close()}: it returns only once no request waits, even
     *              while a later {@code close()} on another thread is the one failing them; a later close returns
     *              without waiting for another close's pass.
     *
     * @throws OutOfMemoryError (or whatever else the dispatcher met on this thread) if failing a request was refused:
     *                          failing it takes heap (the exception, the future's completion), so on a full heap it
     *                          stays queued, and the next {@code close()} or release tries again. Thrown, not only
     *                          logged, so that the caller knows and can retry; a close that returns left no request
     *                          waiting for ever.
     */
    void close(final boolean first)
    {
        closed = true;
        // Not gated on hasWaiters(): a refused completion has already stopped counting its request (see Waiter), which
        // stays queued all the same; whatever reached drain() left a request not ended.
        Throwable refused = drain(true);
        // Our drain() does nothing while another thread's dispatch pass is under way (a release serving a request):
        // it only asks that pass to run once more, and that run fails what is queued. Returning before it, close()
        // left requests waiting (not done, still counted) after it returned. So wait for that pass, unless it is
        // ours (a stage that one of our hand-overs ran closed the arena: the pass fails the rest when it returns).
        // A pass run by another close() is not waited for by a later close(): a second close() racing the first returns
        // at once (pool.md), and a callback of the first's failures may wait for it (EleventhDispatchReviewTest). The
        // first close() waits for it: a second close() that reached this queue first (the first held up in onClose(),
        // by the buddy lock, say) is failing the requests one by one, and the first returned before it was done.
        while (refused == null && wip.get() != 0)
        {
            final Thread running = dispatcher;
            if (running == Thread.currentThread() || !first && running != null && closingPass)
            {
                break;
            }
            Thread.yield();
            if (wip.get() == 0)
            {
                refused = drain(true); // a pass that the heap refused left its requests queued: this fails them or throws
            }
        }
        if (refused != null)
        {
            if (refused instanceof Error error)
            {
                throw error;
            }
            throw (RuntimeException)refused; // serve() declares nothing checked
        }
    }

    WaitMetrics metrics()
    {
        return new WaitMetrics(waiters, completed.sum(), timedOut.sum(), cancelled.sum(), failed.sum(),
            waitNanos.sum());
    }

    /**
     * A request stops counting as waiting exactly once: when the dispatcher claims capacity for it (before its
     * future completes, so that callbacks on the future already see the gate open: "I got the header buffer, now
     * take one for the body" must not be refused by its own, finished request), or when it ends otherwise (its
     * cancel, timeout or completion by the caller, also before the future's callbacks run: "no big buffer in
     * time, take a small one" must not be refused by its own, dead request either). Two of them can race (a cancel
     * and the hand-over): the one that loses the claim waits until the winner has decremented, since it may go on to
     * complete the future itself.
     */
    private void uncount(final Waiter waiter)
    {
        if (waiter.claimUncount())
        {
            try
            {
                WAITERS.getAndAdd(this, -1);
            }
            finally
            {
                waiter.uncounted();
            }
        }
        else
        {
            // Another thread claimed it and may not have decremented yet (a cancel racing the hand-over): whoever
            // completes the future must not run its stages before the count dropped, so wait out that window (a
            // couple of instructions on the claimer's thread, as FutureTask waits out COMPLETING).
            waiter.awaitUncounted();
        }
    }

    private void ended(final Waiter waiter, final Buffer value, final Throwable error)
    {
        uncount(waiter);
        // delivered means completed with the very buffer the dispatcher granted: a complete(x) or
        // completeOnTimeout that won the race after the grant ended it without capacity
        if (error == null && value != null && value == waiter.granted)
        {
            waitNanos.add(waiter.handedAt - waiter.since);
            completed.increment();
            return; // the dispatcher is running (it delivered this one): it goes on serving by itself
        }
        if (error == null)
        {
            // ended with a value the dispatcher never delivered (completeOnTimeout, complete(x)): it gave up
            cancelled.increment();
            drain();
            return;
        }
        final Throwable cause = error instanceof CompletionException && error.getCause() != null ?
            error.getCause() : error;
        if (cause instanceof AllocationTimeoutException || cause instanceof TimeoutException)
        {
            timedOut.increment();
        }
        else if (cause instanceof CancellationException)
        {
            cancelled.increment();
        }
        else
        {
            failed.increment();
        }
        // A request that gave up may have been the head blocking younger ones: let them through now.
        drain();
    }

    /**
     * A buffer delivered to a blocked {@code allocate(size, timeout)} went back because its caller gets an error
     * instead (an {@code OutOfMemoryError} at the moment of the hand-over): {@link #ended} counted the wait as
     * completed, but its caller gave up, so it moves to cancelled with its nanoseconds taken out. Counted from what
     * the hand-over recorded, not from when {@link #ended} ran, so that the two sums agree in either order: the
     * completion's stages may still be running on the dispatcher's thread.
     */
    void givenBack(final CompletableFuture<Buffer> future, final Buffer buffer)
    {
        if (future instanceof Waiter waiter && buffer == waiter.granted) // else never a wait: an immediate claim
        {
            cancelled.increment();
            completed.decrement();
            waitNanos.add(waiter.since - waiter.handedAt);
        }
    }

    /**
     * The work-in-progress loop: one dispatcher at a time, one more pass per signal raised meanwhile; a call while
     * another thread runs it only raises a signal.
     *
     * @return the failure that ended a pass on this thread, or {@code null}.
     */
    private Throwable drain()
    {
        return drain(false);
    }

    private Throwable drain(final boolean closing)
    {
        if (wip.getAndIncrement() != 0)
        {
            return null;
        }
        int missed = 1;
        do
        {
            closingPass = closing; // before the thread: close() reads the thread first
            dispatcher = Thread.currentThread();
            try
            {
                serve();
            }
            catch (final Throwable t)
            {
                dispatcher = null;
                // never leave the dispatcher wedged with wip != 0: every later signal would be lost
                log(t);
                // Nor run again for the signals raised meanwhile: a failed pass raises them itself (a grant that the
                // full heap refused gives its slot back, which signals), so looping spun for as long as the heap stayed
                // full, holding the releasing or closing thread for good. The requests stay queued; the next signal
                // (a release, a request, a cancel, a close) runs the dispatcher again.
                wip.set(0);
                return t;
            }
            dispatcher = null; // before wip may reach 0: the next dispatcher sets its own
            missed = wip.addAndGet(-missed);
        }
        while (missed != 0);
        return null;
    }

    /**
     * Reports a failure the dispatcher survives. Never throws: the message comes from the heap, which an
     * {@code OutOfMemoryError} that reached the dispatcher has just found full, and a throw out of {@link #drain()}
     * would leave it wedged (no waiter ever served again).
     */
    private void log(final Throwable t)
    {
        try
        {
            LakeLog.log(System.Logger.Level.ERROR, "", name, ": wait-queue dispatch failed", t);
        }
        catch (final Throwable unreached)
        {
            // LakeLog's first call in the JVM, refused by a full heap (see LakeLog.log): thrown out of drain()'s
            // catch, it left wip at 1 for good, the dispatcher wedged (no request ever served or failed again)
        }
    }

    /**
     * Ends the oldest request with {@code error}, then removes it from the head of class {@code from}. Completion
     * first: an {@code OutOfMemoryError} before the future is done leaves the request queued (the next pass tries
     * again) instead of removed and never completed, its caller waiting for ever.
     */
    private void fail(final Waiter oldest, final int from, final Throwable error)
    {
        try
        {
            oldest.completeExceptionally(error);
        }
        catch (final Throwable t)
        {
            if (!oldest.isDone())
            {
                throw t; // not ended: it stays at its head, and this pass stops
            }
            log(t); // ended; what failed ran after (a stage of its future): the queue keeps moving
        }
        removeHead(from);
    }

    private void serve()
    {
        while (true)
        {
            Waiter oldest = null;
            int from = -1;
            long empty = 0; // classes found empty (bit c; see below for classes from 64 on)
            for (int c = 0; c < queues.length; c++)
            {
                final Waiter head = head(c);
                if (head == null)
                {
                    empty |= c < 64 ? 1L << c : 0;
                }
                else if (oldest == null || head.ticket < oldest.ticket)
                {
                    oldest = head;
                    from = c;
                }
            }
            if (oldest == null)
            {
                return; // a request queued meanwhile raised a signal: its pass finds it
            }
            if (queues.length > 1)
            {
                final int first = from; // a class past 64 is looked at again unless it gave the oldest
                // A class found empty may have been given a request since, before one that the pass found in a
                // later class was queued (by the same thread: allocateAsync(small), then allocateAsync(big)).
                // Look at those classes again: the older request is at their head now. A class that had a head
                // needs no second look: whatever is queued behind its head came after the head.
                for (int c = 0; c < queues.length; c++)
                {
                    if (c < 64 ? (empty & 1L << c) != 0 : c != first)
                    {
                        final Waiter head = head(c);
                        if (head != null && head.ticket < oldest.ticket)
                        {
                            oldest = head;
                            from = c;
                        }
                    }
                }
            }
            if (closed)
            {
                fail(oldest, from, new ArenaClosedException(
                    name + " was closed while a request for " + oldest.size + " bytes waited for capacity"));
                continue;
            }
            final Buffer buffer;
            try
            {
                buffer = grantor.grant(oldest.sizeClass, oldest.size);
            }
            catch (final Throwable t)
            {
                fail(oldest, from, t); // this request fails, the queue keeps moving
                continue;
            }
            if (buffer == null)
            {
                compactIfMostlyTombstones();
                return; // head-of-line: nobody younger is served before the oldest
            }
            removeHead(from);
            try
            {
                handOver(oldest, buffer);
            }
            catch (final Throwable t)
            {
                // the future holds the buffer already (completed before its stages run): what failed ran after it
                log(t);
            }
        }
    }

    /**
     * The oldest live request of a class, dropping the tombstones (cancelled, timed out, failed) before it: first
     * what an earlier compaction moved aside (older), then the queue itself. Dispatcher only.
     */
    private Waiter head(final int c)
    {
        final ArrayDeque<Waiter> aside = compacted[c];
        Waiter head;
        while ((head = aside.peekFirst()) != null)
        {
            if (!head.isDone())
            {
                return head;
            }
            aside.pollFirst();
        }
        final MpscUnboundedAtomicArrayQueue<Waiter> queue = queues[c];
        while ((head = queue.peek()) != null && head.isDone())
        {
            queue.poll(); // a tombstone: cancelled, timed out or failed
        }
        return head;
    }

    /** Removes the head that {@link #head(int)} returned. Dispatcher only. */
    private void removeHead(final int c)
    {
        if (compacted[c].pollFirst() == null)
        {
            queues[c].poll();
        }
    }

    /**
     * Tombstones are dropped when they reach the head of their queue, so while a live request waits at a head,
     * every request of its class that gives up behind it stayed queued (with its timeout exception and stack
     * trace): a thread retrying {@code allocate(size, 1 ms)} behind a request that waits for minutes grew the heap
     * without bound. When the queued entries outnumber twice the live requests (and 64), every queue is moved
     * aside into the dispatcher's own deques, in order, keeping only live requests: O(entries), at most once per
     * that many tombstones. Dispatcher only (the queues are single-consumer).
     */
    private void compactIfMostlyTombstones()
    {
        if (queued() <= 2L * waiters + 64)
        {
            return;
        }
        for (int c = 0; c < queues.length; c++)
        {
            final ArrayDeque<Waiter> aside = compacted[c];
            final MpscUnboundedAtomicArrayQueue<Waiter> queue = queues[c];
            // what is queued now is moved; requests queued meanwhile stay queued, younger than all of these
            final int moving = queue.size();
            if (moving == 0 && aside.isEmpty())
            {
                continue;
            }
            // Room for every entry is taken before the first one moves: a deque that grew while the requests were
            // moved (or an OutOfMemoryError polling them out) lost a live request that still counted as waiting
            // (never served, never failed, the gate shut for good). Refused here, nothing has moved.
            final ArrayDeque<Waiter> kept = new ArrayDeque<>(aside.size() + moving);
            Waiter w;
            while ((w = aside.pollFirst()) != null)
            {
                if (!w.isDone())
                {
                    kept.addLast(w);
                }
            }
            for (int i = 0; i < moving && (w = queue.poll()) != null; i++)
            {
                if (!w.isDone())
                {
                    kept.addLast(w);
                }
            }
            compacted[c] = trimmed(kept, aside.size() + moving);
        }
    }

    /** A deque of the live requests without the room their tombstones took, if the heap has it; else as it is. */
    private static ArrayDeque<Waiter> trimmed(final ArrayDeque<Waiter> kept, final int room)
    {
        if (kept.size() > room / 2)
        {
            return kept;
        }
        try
        {
            return new ArrayDeque<>(kept);
        }
        catch (final OutOfMemoryError ex)
        {
            return kept; // correct, only larger: the next compaction trims it
        }
    }

    /** @return requests ever queued (tickets taken), for tests: once quiet, every one ended in exactly one outcome. */
    long requests()
    {
        return tickets.get();
    }

    /** @return entries held (live requests and tombstones), for the compaction trigger and tests. */
    long queued()
    {
        long n = 0;
        for (int c = 0; c < queues.length; c++)
        {
            n += queues[c].size() + compacted[c].size();
        }
        return n;
    }

    private void handOver(final Waiter waiter, final Buffer buffer)
    {
        waiter.granted = buffer; // read by ended(), which runs inside complete()
        uncount(waiter);
        if (executor != null)
        {
            HandOver task = null;
            try
            {
                task = new HandOver(waiter, buffer);
                executor.execute(task);
                return;
            }
            catch (final Throwable ex)
            {
                // no heap for the task, or a rejected or broken executor: complete here rather than lose the
                // capacity (unless the executor queued the task before it threw and has run it since: a hand-over
                // runs once). Any Throwable: an executor written in Kotlin or Scala (or a sneaky throw) can throw a
                // checked exception, which left the future never completed and its slot lost
                if (task == null)
                {
                    complete(waiter, buffer);
                }
                else
                {
                    task.run();
                }
                return;
            }
        }
        complete(waiter, buffer);
    }

    private static void complete(final Waiter waiter, final Buffer buffer)
    {
        waiter.handedAt = System.nanoTime(); // published by the completion, for ended() and givenBack()
        if (!waiter.complete(buffer))
        {
            // Cancelled or timed out at the very moment capacity came: give it back (this signals the next waiter).
            buffer.close();
        }
    }

    /**
     * A hand-over through the completion executor, run exactly once: an executor may queue the task and still
     * throw from {@code execute} (a {@code ThreadPoolExecutor} that cannot start a worker), run it later, and find
     * it already done on the freeing thread. A second run would see the future completed, take it for a caller
     * who gave up, and close the buffer its caller now owns.
     */
    private static final class HandOver extends AtomicBoolean implements Runnable
    {
        private final Waiter waiter;
        private final Buffer buffer;

        HandOver(final Waiter waiter, final Buffer buffer)
        {
            this.waiter = waiter;
            this.buffer = buffer;
        }

        @Override
        public void run()
        {
            if (compareAndSet(false, true))
            {
                complete(waiter, buffer);
            }
        }
    }

    /** One waiting request: its own future, so that the caller's cancel or timeout and our hand-over race on one CAS. */
    static final class Waiter extends CompletableFuture<Buffer>
    {
        private static final VarHandle COUNT;
        private static final int COUNTED = 2;
        private static final int UNCOUNTING = 1;
        private static final int UNCOUNTED = 0;

        static
        {
            try
            {
                COUNT = MethodHandles.lookup().findVarHandle(Waiter.class, "count", int.class);
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }

        final int sizeClass;
        final int size;
        /** Its place in arrival order: set before it is queued, read by the dispatcher only after. */
        long ticket;
        final long since;
        /** The buffer the dispatcher claimed for this request, set before it completes the future with it. */
        volatile Buffer granted;
        /**
         * When the hand-over completed the future ({@code System.nanoTime()}), set just before: the end of a
         * delivered wait, read after the completion both by {@link #ended} and by {@link #givenBack}.
         */
        long handedAt;
        /**
         * Whether this request still counts in {@link #waiters}: {@code COUNTED}, then {@code UNCOUNTING} for the one
         * thread that claimed the decrement ({@link #claimUncount()}), then {@code UNCOUNTED} once it is done.
         */
        private volatile int count = COUNTED;

        private final WaitQueue queue;

        Waiter(final WaitQueue queue, final int sizeClass, final int size, final long since)
        {
            this.queue = queue;
            this.sizeClass = sizeClass;
            this.size = size;
            this.since = since;
        }

        // The caller's ways to end the request (cancel, orTimeout, completeOnTimeout, complete(x), completeAsync)
        // stop it counting before the future completes, so before its dependent stages run: a stage registered after
        // enqueue runs before ended() (a future runs its stages last registered first) and must already see the gate
        // open. If the completion then loses, whoever won stopped the count already (the dispatcher before its
        // hand-over).

        @Override
        public boolean cancel(final boolean mayInterruptIfRunning)
        {
            queue.uncount(this);
            return super.cancel(mayInterruptIfRunning);
        }

        /**
         * Ends the request with {@code ex}, as {@link CompletableFuture#completeExceptionally} does, having stopped it
         * counting as waiting first (see above).
         *
         * @param ex the failure; checked before anything changes.
         * @return whether this call ended the request.
         * @throws NullPointerException if {@code ex} is null: the request still waits and still counts.
         */
        @Override
        public boolean completeExceptionally(final Throwable ex)
        {
            // Checked before the uncount: the superclass refuses a null only after, which left the request queued and
            // not done but counted by nobody (the gate open over it, and a release seeing no waiter never served it).
            Objects.requireNonNull(ex, "ex");
            queue.uncount(this);
            return super.completeExceptionally(ex);
        }

        @Override
        public boolean complete(final Buffer value)
        {
            queue.uncount(this);
            return super.complete(value);
        }

        /**
         * {@code completeAsync} completes through the future's internals, not through {@link #complete}: the
         * request stops counting once the supplier has run (before the completion, so before the stages), as for
         * the other ways to end it. Not called when the future is already done (whoever ended it uncounted it).
         */
        @Override
        public CompletableFuture<Buffer> completeAsync(final Supplier<? extends Buffer> supplier,
            final Executor executor)
        {
            Objects.requireNonNull(supplier, "supplier");
            return super.completeAsync(() ->
            {
                try
                {
                    return supplier.get();
                }
                finally
                {
                    queue.uncount(this);
                }
            }, executor);
        }

        /** @return true for the one caller that stops this request counting; it then calls {@link #uncounted()}. */
        boolean claimUncount()
        {
            // a read first: a later caller fails cheaply
            return count == COUNTED && COUNT.compareAndSet(this, COUNTED, UNCOUNTING);
        }

        /** The claimer has taken this request out of {@link #waiters}. */
        void uncounted()
        {
            count = UNCOUNTED;
        }

        /** Returns once whoever claimed the decrement has done it. */
        void awaitUncounted()
        {
            while (count == UNCOUNTING)
            {
                Thread.yield();
            }
        }
    }
}
