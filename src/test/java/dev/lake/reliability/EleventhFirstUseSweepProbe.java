package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.linear.Transaction;
import dev.lake.linear.TransactionBody;
import dev.lake.memory.NativeMemory;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.LongInit;
import dev.lake.slice.SharedSingle;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.testing.CleanerHold;
import dev.lake.testing.HeapFiller;
import dev.lake.thread.ThreadLakes;

/**
 * Child JVM of {@link EleventhFirstUseSweepTest}: one release, close, rewind, reset or end-of-scope path of one
 * allocator, run as the FIRST operation of its kind in this JVM, with as little as possible done before it (the
 * allocator built, one allocation, the probe's own queries), on a heap filled to the brim; the operation is retried
 * after each {@link OutOfMemoryError} with one heap filler let go, as a caller that catches the error and retries
 * would. Whatever the operation links or resolves the first time it runs meets the full heap.
 *
 * <p>The contract checked: an operation that throws has not done its work (a retry then does it once). Prints
 * {@code probe: MODE late L refused R other X left-regions N leaks K CHECK}: {@code late} counts refusals met with the
 * operation's effect already visible (its point of no return passed: a retry is a double release, refused as stale,
 * or does nothing while the caller believes it failed); {@code other} the first exception other than the refusal met
 * by a retry ({@code none} if none); {@code left-regions} the regions still held once the probe closed everything
 * (on a heap with room); {@code leaks} the safety net's count meanwhile; {@code CHECK} the mode's own end state (see
 * {@link Path#check()}), each a {@code name value} pair whose expected value the test names.
 */
public final class EleventhFirstUseSweepProbe
{
    /** Diagnostics: the refusals met, printed at the end with {@code -Dprobe.verbose=true}. */
    private static final Throwable[] SEEN = new Throwable[256];

    private EleventhFirstUseSweepProbe()
    {
    }

    /** One path under test: its setup runs on a heap with room, its {@link #op()} on the full heap. */
    abstract static class Path
    {
        /** Builds the allocator and makes the one allocation the operation gives back. */
        abstract void setup();

        /** The operation under test. */
        abstract void op();

        /** @return whether the operation's effect is visible (read-only, allocation-free). */
        abstract boolean done();

        /** Closes everything, on a heap with room, so that the region count can be compared with the start. */
        abstract void after();

        /** @return the mode's end state as {@code " name value"} pairs, read after {@link #after()}. */
        String check()
        {
            return "";
        }
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        final long regions = NativeMemory.liveRegions();
        final long leaksBefore = NativeMemory.leaks();
        final boolean remote = mode.startsWith("remote-");
        final Path path = path(remote ? mode.substring("remote-".length()) : mode);
        path.setup();
        path.done(); // the probe's own query, linked on a heap with room
        HeapFiller.fill(0).freeOne(); // so is the filler's
        if (remote)
        {
            // the operation runs on another thread, started on a heap with room: a release by a thread other than
            // the allocating one takes its own paths (counters per thread, hand-overs)
            final Remote worker = new Remote(path);
            worker.start();
            FILLERS = HeapFiller.fill(1 << 21);
            worker.go = true;
            joinQuietly(worker);
            FILLERS.freeAll();
            path.after();
            report(mode, path, worker.retry.refused, worker.retry.late, worker.retry.other, regions, leaksBefore);
            return;
        }
        final Retry retry = new Retry(path);
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        retry.run(fillers);
        fillers.freeAll();
        path.after();
        report(mode, path, retry.refused, retry.late, retry.other, regions, leaksBefore);
    }

    private static volatile HeapFiller FILLERS;

    /**
     * Runs the operation on the full heap until it returns, letting heap fillers go after each refusal; counts the
     * refusals, those that came after the operation's effect was visible ({@code late}), and names any other
     * exception. Made on a heap with room.
     */
    private static final class Retry
    {
        private final Path path;
        int refused;
        int late;
        String other = "none";

        Retry(final Path path)
        {
            this.path = path;
        }

        void run(final HeapFiller fillers)
        {
            while (true)
            {
                try
                {
                    path.op();
                    return;
                }
                catch (final OutOfMemoryError full)
                {
                    if (refused < SEEN.length)
                    {
                        SEEN[refused] = full;
                    }
                    refused++;
                    if (path.done())
                    {
                        late++;
                    }
                    // one filler per refusal for the first 64 steps, then a few more each time: a first use that loads
                    // classes meets hundreds of refusals, each a full GC, and any stretch of them past the point of no
                    // return still meets refusals at this pace
                    boolean left = true;
                    for (int i = refused <= 64 ? 1 : refused / 8; i > 0 && left; i--)
                    {
                        left = fillers.freeOne();
                    }
                    if (!left)
                    {
                        return;
                    }
                }
                catch (final RuntimeException e)
                {
                    other = e.getClass().getSimpleName();
                    return;
                }
            }
        }
    }

    /** Runs the operation's retry loop on its own thread once {@link #go} is set. */
    private static final class Remote extends Thread
    {
        final Retry retry;
        volatile boolean go;

        Remote(final Path path)
        {
            this.retry = new Retry(path);
        }

        @Override
        public void run()
        {
            while (!go)
            {
                Thread.onSpinWait();
            }
            retry.run(FILLERS);
        }
    }

    private static void joinQuietly(final Thread thread)
    {
        boolean interrupted = false;
        while (thread.isAlive())
        {
            try
            {
                thread.join();
            }
            catch (final InterruptedException e)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static void report(final String mode, final Path path, final int refused, final int late,
        final String other, final long regions, final long leaksBefore)
    {
        final long left = NativeMemory.liveRegions() - regions;
        System.out.println("probe: " + mode + " late " + late + " refused " + refused + " other " + other +
            " left-regions " + left + " leaks " + (NativeMemory.leaks() - leaksBefore) + path.check());
        if (Boolean.getBoolean("probe.verbose"))
        {
            for (int i = 0; i < Math.min(refused, SEEN.length); i++)
            {
                SEEN[i].printStackTrace(System.out);
            }
        }
        System.out.flush();
    }

    private static Path path(final String mode)
    {
        switch (mode)
        {
            case "lake-droplet-close": return new LakeDropletClose();
            case "lake-rewind": return new LakeRewind();
            case "lake-reset-to-mark": return new LakeResetToMark();
            case "lake-reset": return new LakeReset();
            case "lake-sandbox-close": return new LakeSandbox(false);
            case "lake-sandbox-commit": return new LakeSandbox(true);
            case "lake-sandbox-rollback": return new LakeSandboxRollback();
            case "lake-token-end": return new LakeToken(false);
            case "lake-token-commit": return new LakeToken(true);
            case "lake-view-close": return new LakeViewClose();
            case "lake-close": return new LakeClose();
            case "lake-zeroing-droplet-close": return new LakeDropletClose().zeroing();
            case "lake-zeroing-reset": return new LakeReset().zeroing();
            case "arena-rewind": return new ArenaRewind();
            case "arena-reset": return new ArenaReset();
            case "arena-rewind-cleanup": return new ArenaRewindCleanup();
            case "arena-close": return new ArenaClose();
            case "arena-defer-close-reset": return new ArenaDeferCloseReset();
            case "arena-txn-close": return new ArenaTxn(0, false);
            case "arena-txn-commit": return new ArenaTxn(1, false);
            case "arena-txn-rollback": return new ArenaTxn(2, false);
            case "arena-savepoint-close": return new ArenaTxn(0, true);
            case "arena-savepoint-commit": return new ArenaTxn(1, true);
            case "arena-savepoint-rollback": return new ArenaTxn(2, true);
            case "arena-with-transaction": return new ArenaWithTransaction();
            case "arena-token-end": return new ArenaToken(false);
            case "arena-token-commit": return new ArenaToken(true);
            case "arena-vec-finish": return new ArenaVecPath(true);
            case "arena-vec-clear": return new ArenaVecPath(false);
            case "threadlakes-release": return new ThreadLakesRelease(ThreadLakes.builder(4096));
            case "threadlakes-release-strict": return new ThreadLakesRelease(ThreadLakes.builder(4096).strict(true));
            case "threadlakes-release-linked":
                return new ThreadLakesRelease(ThreadLakes.builder(4096).poolBound(Integer.MAX_VALUE));
            case "threadlakes-release-unpooled": return new ThreadLakesRelease(ThreadLakes.builder(4096).poolBound(0));
            case "threadlakes-close": return new ThreadLakesClose();
            case "threadlakes-with": return new ThreadLakesWith();
            case "threadlakes-reap": return new ThreadLakesReap();
            case "threadlakes-closed-release": return new ThreadLakesClosedRelease();
            case "fixed-handle-release": return new HandleRelease(true);
            case "buddy-handle-release": return new HandleRelease(false);
            case "fixed-bytes-release": return new BytesRelease(true, false);
            case "buddy-bytes-release": return new BytesRelease(false, false);
            case "fixed-bytes-retain": return new BytesRelease(true, true);
            case "fixed-retained-release": return new RetainedRelease();
            case "fixed-spilled-close": return new SpilledClose();
            case "fixed-buffer-close": return new BufferClose(FixedArena.builder(2, 64).build(), null);
            case "buddy-buffer-close": return new BufferClose(null, BuddyArena.builder(256, 64).build());
            case "fixed-zero-bytes-release":
                return new BufferClose(FixedArena.builder(2, 64).initPolicy(InitPolicy.ZERO).build(), null).frozen();
            case "fixed-leak-bytes-release":
                return new BufferClose(FixedArena.builder(2, 64).leakDetection(true).build(), null).frozen();
            case "buddy-leak-bytes-release":
                return new BufferClose(null, BuddyArena.builder(256, 64).leakDetection(true).build()).frozen();
            case "fixed-waiter-handle-release": return new WaiterRelease(true, true);
            case "buddy-waiter-handle-release": return new WaiterRelease(false, true);
            case "buddy-waiter-buffer-close": return new WaiterRelease(false, false);
            case "fixed-close": return new PoolClose(true);
            case "buddy-close": return new PoolClose(false);
            case "slice-release": return new SliceRelease(false);
            case "slice-single-release": return new SliceRelease(true);
            case "slice-to-single": return new SliceConvert(true);
            case "slice-to-slice": return new SliceConvert(false);
            case "slice-ref-release": return new SliceRefRelease(false);
            case "slice-shared-release": return new SliceSharedRelease();
            case "slice-reader-close": return new SliceRefRelease(true);
            case "slice-reader-bound-close": return new SliceBoundReaderClose();
            case "slice-close": return new SliceClose();
            default: throw new IllegalArgumentException(mode);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // linear: Lake

    private abstract static class LakePath extends Path
    {
        Lake lake;
        private boolean zeroing;

        /** @return this path, on a lake that wipes what it gives back. */
        LakePath zeroing()
        {
            zeroing = true;
            return this;
        }

        Lake newLake()
        {
            final Lake made = Lake.of(4096);
            made.setZeroing(zeroing);
            return made;
        }

        @Override
        void after()
        {
            lake.close();
        }

        @Override
        String check()
        {
            return "";
        }
    }

    private static final class LakeDropletClose extends LakePath
    {
        private Droplet droplet;

        @Override
        void setup()
        {
            lake = newLake();
            droplet = lake.droplet(16);
            droplet.putLong(0, -1L);
        }

        @Override
        void op()
        {
            droplet.close();
        }

        @Override
        boolean done()
        {
            return !droplet.isValid();
        }

        @Override
        void after()
        {
            position = lake.position();
            super.after();
        }

        private int position = -1;

        @Override
        String check()
        {
            return " position " + position;
        }
    }

    private static final class LakeRewind extends LakePath
    {
        private LakeSnapshot snapshot;

        @Override
        void setup()
        {
            lake = Lake.of(4096);
            snapshot = lake.snapshot();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lake.rewind(snapshot);
        }

        @Override
        boolean done()
        {
            return lake.position() == 0;
        }
    }

    private static final class LakeResetToMark extends LakePath
    {
        @Override
        void setup()
        {
            lake = Lake.of(4096);
            lake.mark();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lake.resetToMark();
        }

        @Override
        boolean done()
        {
            return lake.markDepth() == 0;
        }
    }

    private static final class LakeReset extends LakePath
    {
        @Override
        void setup()
        {
            lake = newLake();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lake.reset();
        }

        @Override
        boolean done()
        {
            return lake.position() == 0;
        }
    }

    private static final class LakeSandbox extends LakePath
    {
        private final boolean commit;
        private Sandbox sandbox;

        LakeSandbox(final boolean commit)
        {
            this.commit = commit;
        }

        @Override
        void setup()
        {
            lake = Lake.of(4096);
            sandbox = lake.sandbox();
            sandbox.allocate(16);
        }

        @Override
        void op()
        {
            if (commit)
            {
                sandbox.commit();
            }
            else
            {
                sandbox.close();
            }
        }

        @Override
        boolean done()
        {
            return !sandbox.isOpen();
        }

        private int position = -1;
        private int open = -1;

        @Override
        void after()
        {
            position = lake.position();
            open = lake.openSandboxes();
            super.after();
        }

        @Override
        String check()
        {
            return " position " + position + " open " + open;
        }
    }

    private static final class LakeToken extends LakePath
    {
        private final boolean commit;
        private long token;

        LakeToken(final boolean commit)
        {
            this.commit = commit;
        }

        @Override
        void setup()
        {
            lake = Lake.of(4096);
            token = lake.beginSandbox();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            if (commit)
            {
                lake.commitSandbox(token);
            }
            else
            {
                lake.endSandbox(token);
            }
        }

        @Override
        boolean done()
        {
            return lake.openSandboxes() == 0;
        }

        private int position = -1;

        @Override
        void after()
        {
            position = lake.position();
            super.after();
        }

        @Override
        String check()
        {
            return " position " + position;
        }
    }

    private static final class LakeViewClose extends LakePath
    {
        private LakeView view;

        @Override
        void setup()
        {
            lake = Lake.of(4096);
            view = lake.split(256);
            view.allocate(16);
        }

        @Override
        void op()
        {
            view.close();
        }

        @Override
        boolean done()
        {
            return !view.isValid();
        }

        private int position = -1;

        @Override
        void after()
        {
            position = lake.position();
            super.after();
        }

        @Override
        String check()
        {
            return " position " + position;
        }
    }

    private static final class LakeClose extends LakePath
    {
        @Override
        void setup()
        {
            lake = Lake.of(4096);
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lake.close();
        }

        @Override
        boolean done()
        {
            return !lake.isOpen();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // linear: Arena

    /** Counts the runs of an arena cleanup (a plain class: no lambda is linked on the full heap). */
    private static final class Counter implements Runnable
    {
        int runs;

        @Override
        public void run()
        {
            runs++;
        }
    }

    private abstract static class ArenaPath extends Path
    {
        Arena arena;
        final Counter cleanup = new Counter();
        private long allocated = -1;

        @Override
        void after()
        {
            allocated = arena.bytesAllocated();
            arena.close();
        }

        @Override
        String check()
        {
            return " allocated " + allocated + " cleanups " + cleanup.runs;
        }
    }

    private static final class ArenaRewind extends ArenaPath
    {
        private Checkpoint checkpoint;

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            checkpoint = arena.checkpoint();
            arena.allocate(16);
        }

        @Override
        void op()
        {
            arena.rewind(checkpoint);
        }

        @Override
        boolean done()
        {
            return arena.bytesAllocated() == 0;
        }
    }

    private static final class ArenaReset extends ArenaPath
    {
        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            arena.allocate(16);
            arena.defer(cleanup);
        }

        @Override
        void op()
        {
            arena.reset();
        }

        @Override
        boolean done()
        {
            return arena.bytesAllocated() == 0;
        }
    }

    private static final class ArenaClose extends ArenaPath
    {
        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            arena.allocate(16);
            arena.defer(cleanup);
        }

        @Override
        void op()
        {
            arena.close();
        }

        @Override
        boolean done()
        {
            return arena.isClosed();
        }

        @Override
        void after()
        {
            arena.close();
        }

        @Override
        String check()
        {
            return " allocated 0 cleanups " + cleanup.runs;
        }
    }

    private static final class ArenaTxn extends ArenaPath
    {
        /** 0 close (rolls back), 1 commit, 2 rollback. */
        private final int how;
        private final boolean savepoint;
        private Transaction outer;
        private Transaction txn;

        ArenaTxn(final int how, final boolean savepoint)
        {
            this.how = how;
            this.savepoint = savepoint;
        }

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            outer = arena.transaction();
            txn = savepoint ? outer.savepoint() : outer;
            txn.allocate(16);
            txn.defer(cleanup);
        }

        @Override
        void op()
        {
            if (how == 1)
            {
                txn.commit();
            }
            else if (how == 2)
            {
                txn.rollback();
            }
            else
            {
                txn.close();
            }
        }

        @Override
        boolean done()
        {
            return !txn.isOpen();
        }

        private int depth = -1;

        @Override
        void after()
        {
            depth = arena.transactionDepth();
            if (savepoint)
            {
                outer.commit(); // keeps what a committed savepoint kept: the cleanup then runs at close
            }
            super.after();
        }

        @Override
        String check()
        {
            return " depth " + depth + super.check();
        }
    }

    /** The body of {@code arena-with-transaction}: 16 bytes and a cleanup (a plain class: no lambda). */
    private static final class Body implements TransactionBody<Object, RuntimeException>
    {
        private final Counter cleanup;

        Body(final Counter cleanup)
        {
            this.cleanup = cleanup;
        }

        @Override
        public Object run(final Transaction tx)
        {
            tx.allocate(16);
            tx.defer(cleanup);
            return null;
        }
    }

    private static final class ArenaWithTransaction extends ArenaPath
    {
        private Body body;
        private boolean returned;

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            arena.allocate(8);
            body = new Body(cleanup);
        }

        @Override
        void op()
        {
            arena.withTransaction(body);
            returned = true;
        }

        @Override
        boolean done()
        {
            return returned;
        }
    }

    private static final class ArenaToken extends ArenaPath
    {
        private final boolean commit;
        private long token;

        ArenaToken(final boolean commit)
        {
            this.commit = commit;
        }

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            token = arena.beginTransaction();
            arena.allocate(16);
            arena.defer(cleanup);
        }

        @Override
        void op()
        {
            if (commit)
            {
                arena.commitTransaction(token);
            }
            else
            {
                arena.endTransaction(token);
            }
        }

        @Override
        boolean done()
        {
            return arena.transactionDepth() == 0;
        }
    }

    private static final class ArenaVecPath extends ArenaPath
    {
        private final boolean finish;
        private ArenaVec.OfLong vec;

        ArenaVecPath(final boolean finish)
        {
            this.finish = finish;
        }

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            vec = ArenaVec.ofLongs(arena);
            vec.push(1);
        }

        @Override
        void op()
        {
            if (finish)
            {
                vec.finish();
            }
            else
            {
                vec.clear();
            }
        }

        @Override
        boolean done()
        {
            return finish ? vec.isFinished() : vec.isEmpty();
        }
    }

    private static final class LakeSandboxRollback extends LakePath
    {
        private Sandbox sandbox;
        private int position = -1;

        @Override
        void setup()
        {
            lake = Lake.of(4096);
            sandbox = lake.sandbox();
            sandbox.allocate(16);
        }

        @Override
        void op()
        {
            sandbox.rollback();
        }

        @Override
        boolean done()
        {
            return !sandbox.isOpen();
        }

        @Override
        void after()
        {
            position = lake.position();
            super.after();
        }

        @Override
        String check()
        {
            return " position " + position;
        }
    }

    /** An {@link AutoCloseable} cleanup that counts its closes. */
    private static final class Closeable implements AutoCloseable
    {
        int closes;

        @Override
        public void close()
        {
            closes++;
        }
    }

    private static final class ArenaDeferCloseReset extends ArenaPath
    {
        private final Closeable resource = new Closeable();

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            arena.allocate(16);
            arena.deferClose(resource);
        }

        @Override
        void op()
        {
            arena.reset();
        }

        @Override
        boolean done()
        {
            return arena.bytesAllocated() == 0;
        }

        @Override
        String check()
        {
            return super.check() + " closes " + resource.closes;
        }
    }

    private static final class ThreadLakesClosedRelease extends Path
    {
        private ThreadLakes lakes;
        private Lake lake;
        private String stats = "";

        @Override
        void setup()
        {
            lakes = ThreadLakes.builder(4096).build();
            lake = lakes.init();
            lake.allocate(16);
            lakes.close(); // the leased lake is closed by its release
        }

        @Override
        void op()
        {
            lakes.release();
        }

        @Override
        boolean done()
        {
            return !lake.isOpen();
        }

        @Override
        void after()
        {
            final ThreadLakes.Stats s = lakes.stats();
            stats = " leased " + s.leased() + " pooled " + s.pooled() + " closed " + s.closed();
        }

        @Override
        String check()
        {
            return stats;
        }
    }

    private static final class SliceBoundReaderClose extends SlicePath
    {
        private long ref;
        private SliceReader bound;

        @Override
        void setup()
        {
            build();
            ref = alloc.allocateLongsRef(4, new Ones());
            bound = new SliceReader().bind(alloc, ref); // the reader's own count: the caller keeps its own
        }

        @Override
        void op()
        {
            bound.close();
        }

        @Override
        boolean done()
        {
            return !bound.isBound();
        }

        @Override
        void after()
        {
            alloc.release(ref);
            super.after();
        }
    }

    private static final class ArenaRewindCleanup extends ArenaPath
    {
        private Checkpoint checkpoint;

        @Override
        void setup()
        {
            arena = Arena.withCapacity(4096);
            checkpoint = arena.checkpoint();
            arena.allocate(16);
            arena.defer(cleanup);
        }

        @Override
        void op()
        {
            arena.rewind(checkpoint);
        }

        @Override
        boolean done()
        {
            return arena.bytesAllocated() == 0;
        }
    }

    /** A buffer's close, or with {@link #frozen()} the release of its frozen bytes, of an arena built by the mode. */
    private static final class BufferClose extends PoolPath
    {
        private final FixedArena fixed;
        private final BuddyArena buddy;
        private boolean freeze;
        private Buffer buffer;
        private Bytes bytes;

        BufferClose(final FixedArena fixed, final BuddyArena buddy)
        {
            this.fixed = fixed;
            this.buddy = buddy;
        }

        BufferClose frozen()
        {
            freeze = true;
            return this;
        }

        @Override
        void setup()
        {
            fixedArena = fixed;
            buddyArena = buddy;
            buffer = allocate();
            buffer.putLong(8); // some bytes dirty: a ZERO arena wipes them on release
            if (freeze)
            {
                bytes = buffer.freeze();
            }
        }

        @Override
        void op()
        {
            if (freeze)
            {
                bytes.release();
            }
            else
            {
                buffer.close();
            }
        }

        @Override
        boolean done()
        {
            return freeze ? bytes.isReleased() : !buffer.isWritable();
        }
    }

    private static final class SliceSharedRelease extends SlicePath
    {
        private SharedSlice slice;
        private SharedSlice shared;

        @Override
        void setup()
        {
            build();
            slice = alloc.allocateLongs(4, new Ones());
            shared = slice.share();
        }

        @Override
        void op()
        {
            shared.release(); // not the last count
        }

        @Override
        boolean done()
        {
            return shared.isReleased();
        }

        @Override
        void after()
        {
            slice.release();
            super.after();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // thread lakes

    private static final class ThreadLakesRelease extends Path
    {
        private final ThreadLakes.Builder builder;
        private ThreadLakes lakes;
        private Lake lake;
        private String stats = "";

        ThreadLakesRelease(final ThreadLakes.Builder builder)
        {
            this.builder = builder;
        }

        @Override
        void setup()
        {
            lakes = builder.build();
            lake = lakes.init();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lakes.release();
        }

        @Override
        boolean done()
        {
            return false; // stats() makes a record: read once the heap has room (check())
        }

        @Override
        void after()
        {
            final ThreadLakes.Stats s = lakes.stats();
            final boolean again = lakes.init() == lake;
            lakes.release();
            stats = " leased " + s.leased() + " pooled " + s.pooled() + " closed " + s.closed() + " reused " + again;
            lakes.close();
        }

        @Override
        String check()
        {
            return stats;
        }
    }

    /** The work of {@code threadlakes-with}: a scratch allocation (a plain class: no lambda linked on the full heap). */
    private static final class Scratch implements java.util.function.Function<Lake, Object>
    {
        @Override
        public Object apply(final Lake lake)
        {
            lake.allocate(16);
            return null;
        }
    }

    private static final class ThreadLakesWith extends Path
    {
        private final Scratch work = new Scratch();
        private ThreadLakes lakes;
        private Lake lake;
        private String state = "";

        @Override
        void setup()
        {
            lakes = ThreadLakes.builder(4096).build();
            lake = lakes.init();
            lake.allocate(16);
        }

        @Override
        void op()
        {
            lakes.with(work);
        }

        @Override
        boolean done()
        {
            return false; // each try's work is undone by its own end of scope: checked once, at the end
        }

        @Override
        void after()
        {
            state = " marks " + lake.markDepth() + " position " + lake.position();
            lakes.release();
            lakes.close();
        }

        @Override
        String check()
        {
            return state;
        }
    }

    /** A thread that takes a lake, allocates and ends without {@code release()}. */
    private static final class Leaver extends Thread
    {
        private final ThreadLakes lakes;

        Leaver(final ThreadLakes lakes)
        {
            this.lakes = lakes;
        }

        @Override
        public void run()
        {
            lakes.init().allocate(16);
        }
    }

    private static final class ThreadLakesReap extends Path
    {
        private ThreadLakes lakes;
        private int reaped = -1;
        private String stats = "";
        private Leaver leaver;
        /**
         * Holds the shared Cleaner's thread until {@link #after()}: the Cleaner gives a dead thread's lake back at the
         * first GC after the thread ended (its thread locals are dropped then, whether or not its {@code Thread} is
         * held), and the full heap's GCs would let it win the race with the reap under test.
         */
        private CleanerHold.Key cleanerHeld;

        @Override
        void setup()
        {
            try
            {
                cleanerHeld = CleanerHold.hold();
            }
            catch (final InterruptedException ex)
            {
                throw new IllegalStateException(ex);
            }
            lakes = ThreadLakes.builder(4096).build();
            leaver = new Leaver(lakes);
            leaver.start();
            joinQuietly(leaver);
        }

        @Override
        void op()
        {
            reaped = lakes.reap();
        }

        @Override
        boolean done()
        {
            return false; // stats() makes a record: read once the heap has room (check())
        }

        @Override
        void after()
        {
            final ThreadLakes.Stats s = lakes.stats();
            stats = " reaped " + reaped + " leased " + s.leased() + " pooled " + s.pooled() + " reclaimed " +
                s.reclaimed();
            lakes.close();
            cleanerHeld.close();
        }

        @Override
        String check()
        {
            return stats;
        }
    }

    private static final class ThreadLakesClose extends Path
    {
        private ThreadLakes lakes;
        private Lake lake;

        @Override
        void setup()
        {
            lakes = ThreadLakes.builder(4096).build();
            lake = lakes.init();
            lake.allocate(16);
            lakes.release(); // pooled: the close closes it
        }

        @Override
        void op()
        {
            lakes.close();
        }

        @Override
        boolean done()
        {
            return !lake.isOpen();
        }

        @Override
        void after()
        {
            lakes.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // pool

    private abstract static class PoolPath extends Path
    {
        /** The arena under test: one of the two is set (their common base is not public). */
        FixedArena fixedArena;
        BuddyArena buddyArena;
        private int live = -1;
        private boolean freed;

        void build(final boolean fixed)
        {
            if (fixed)
            {
                fixedArena = FixedArena.builder(2, 64).build();
            }
            else
            {
                buddyArena = BuddyArena.builder(256, 64).build();
            }
        }

        Buffer allocate()
        {
            return fixedArena != null ? fixedArena.allocate() : buddyArena.allocate(64);
        }

        long allocateHandle()
        {
            return fixedArena != null ? fixedArena.allocateHandle() : buddyArena.allocateHandle(64);
        }

        void release(final long handle)
        {
            if (fixedArena != null)
            {
                fixedArena.release(handle);
            }
            else
            {
                buddyArena.release(handle);
            }
        }

        boolean isLive(final long handle)
        {
            return fixedArena != null ? fixedArena.isLive(handle) : buddyArena.isLive(handle);
        }

        void closeArena()
        {
            if (fixedArena != null)
            {
                fixedArena.close();
            }
            else
            {
                buddyArena.close();
            }
        }

        boolean isClosed()
        {
            return fixedArena != null ? fixedArena.isClosed() : buddyArena.isClosed();
        }

        @Override
        void after()
        {
            live = fixedArena != null ? fixedArena.liveSlots() : 0;
            closeArena();
            freed = fixedArena != null ? fixedArena.isRegionFreed() : buddyArena.isRegionFreed();
        }

        @Override
        String check()
        {
            return " live-slots " + live + " region-freed " + freed;
        }
    }

    private static final class HandleRelease extends PoolPath
    {
        private final boolean fixed;
        private long handle;

        HandleRelease(final boolean fixed)
        {
            this.fixed = fixed;
        }

        @Override
        void setup()
        {
            build(fixed);
            handle = allocateHandle();
        }

        @Override
        void op()
        {
            release(handle);
        }

        @Override
        boolean done()
        {
            return !isLive(handle);
        }
    }

    private static final class BytesRelease extends PoolPath
    {
        private final boolean fixed;
        private final boolean retain;
        private Bytes bytes;
        private Bytes copy;

        BytesRelease(final boolean fixed, final boolean retain)
        {
            this.fixed = fixed;
            this.retain = retain;
        }

        @Override
        void setup()
        {
            build(fixed);
            final Buffer buffer = allocate();
            bytes = buffer.freeze();
        }

        @Override
        void op()
        {
            if (retain)
            {
                copy = bytes.retain();
            }
            else
            {
                bytes.release();
            }
        }

        @Override
        boolean done()
        {
            return retain ? copy != null : bytes.isReleased();
        }

        @Override
        void after()
        {
            if (retain)
            {
                bytes.release();
                if (copy != null)
                {
                    copy.release();
                }
            }
            super.after();
        }
    }

    private static final class RetainedRelease extends PoolPath
    {
        private Bytes bytes;
        private Bytes copy;

        @Override
        void setup()
        {
            build(true);
            bytes = allocate().freeze();
            copy = bytes.retain();
        }

        @Override
        void op()
        {
            copy.release(); // not the last reference
        }

        @Override
        boolean done()
        {
            return copy.isReleased();
        }

        @Override
        void after()
        {
            bytes.release();
            super.after();
        }
    }

    private static final class SpilledClose extends PoolPath
    {
        private Buffer buffer;

        @Override
        void setup()
        {
            fixedArena = FixedArena.builder(2, 64).autoSpill(true).build();
            buffer = fixedArena.allocate();
            buffer.position(65); // spills: the slot goes back now
            buffer.isSpilled();
        }

        @Override
        void op()
        {
            buffer.close();
        }

        @Override
        boolean done()
        {
            return !buffer.isWritable();
        }

        @Override
        String check()
        {
            return super.check() + " spilled " + buffer.isSpilled();
        }
    }

    /** The only slot released (a handle, or a buffer closed) while a request waits for it. */
    private static final class WaiterRelease extends PoolPath
    {
        private final boolean fixed;
        private final boolean handleTier;
        private long handle;
        private Buffer held;
        private java.util.concurrent.CompletableFuture<Buffer> waiter;
        private String served = "";

        WaiterRelease(final boolean fixed, final boolean handleTier)
        {
            this.fixed = fixed;
            this.handleTier = handleTier;
        }

        @Override
        void setup()
        {
            if (fixed)
            {
                fixedArena = FixedArena.builder(1, 64).build();
            }
            else
            {
                buddyArena = BuddyArena.builder(64, 64).build();
            }
            if (handleTier)
            {
                handle = allocateHandle();
            }
            else
            {
                held = allocate();
            }
            waiter = fixed ? fixedArena.allocateAsync() : buddyArena.allocateAsync(64);
        }

        @Override
        void op()
        {
            if (handleTier)
            {
                release(handle);
            }
            else
            {
                held.close();
            }
        }

        @Override
        boolean done()
        {
            return handleTier ? !isLive(handle) : !held.isWritable();
        }

        @Override
        void after()
        {
            final boolean now = waiter.isDone() && !waiter.isCompletedExceptionally();
            // a dispatch pass the full heap refused ends there; its requests are served by the next request (pool.md)
            final java.util.concurrent.CompletableFuture<Buffer> next =
                fixed ? fixedArena.allocateAsync() : buddyArena.allocateAsync(64);
            final boolean ok = waiter.isDone() && !waiter.isCompletedExceptionally();
            next.cancel(false);
            served = " served-at-once " + now + " served " + ok;
            if (ok)
            {
                waiter.join().close();
            }
            super.after();
        }

        @Override
        String check()
        {
            return super.check() + served;
        }
    }

    private static final class PoolClose extends PoolPath
    {
        private final boolean fixed;

        PoolClose(final boolean fixed)
        {
            this.fixed = fixed;
        }

        @Override
        void setup()
        {
            build(fixed);
            allocate().close();
        }

        @Override
        void op()
        {
            closeArena();
        }

        @Override
        boolean done()
        {
            return isClosed();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // slices

    /** The init of every slice (a plain class: no lambda). */
    private static final class Ones implements LongInit
    {
        @Override
        public long value(final int index)
        {
            return 1;
        }
    }

    private abstract static class SlicePath extends Path
    {
        SliceAllocator alloc;
        private long liveBytes = -1;

        void build()
        {
            alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        }

        @Override
        void after()
        {
            alloc.close();
            liveBytes = alloc.stats().liveSliceBytes();
        }

        @Override
        String check()
        {
            return " live-bytes " + liveBytes;
        }
    }

    private static final class SliceRelease extends SlicePath
    {
        private final boolean single;
        private Object handle;

        SliceRelease(final boolean single)
        {
            this.single = single;
        }

        @Override
        void setup()
        {
            build();
            handle = single ? alloc.allocateValue(7L) : alloc.allocateLongs(4, new Ones());
        }

        @Override
        void op()
        {
            if (single)
            {
                ((SharedSingle)handle).release();
            }
            else
            {
                ((SharedSlice)handle).release();
            }
        }

        @Override
        boolean done()
        {
            return single ? ((SharedSingle)handle).isReleased() : ((SharedSlice)handle).isReleased();
        }
    }

    private static final class SliceConvert extends SlicePath
    {
        private final boolean toSingle;
        private SharedSlice slice;
        private SharedSingle single;
        private Object converted;

        SliceConvert(final boolean toSingle)
        {
            this.toSingle = toSingle;
        }

        @Override
        void setup()
        {
            build();
            if (toSingle)
            {
                slice = alloc.allocateLongs(1, new Ones());
            }
            else
            {
                single = alloc.allocateValue(7L);
            }
        }

        @Override
        void op()
        {
            converted = toSingle ? slice.toSingle() : single.toSlice();
        }

        @Override
        boolean done()
        {
            return toSingle ? slice.isReleased() : single.isReleased();
        }

        @Override
        void after()
        {
            if (converted instanceof SharedSingle)
            {
                ((SharedSingle)converted).release();
            }
            else if (converted instanceof SharedSlice)
            {
                ((SharedSlice)converted).release();
            }
            super.after();
        }
    }

    private static final class SliceRefRelease extends SlicePath
    {
        private final boolean reader;
        private long ref;
        private SliceReader bound;

        SliceRefRelease(final boolean reader)
        {
            this.reader = reader;
        }

        @Override
        void setup()
        {
            build();
            ref = alloc.allocateLongsRef(4, new Ones());
            if (reader)
            {
                bound = new SliceReader().adopt(alloc, ref);
            }
        }

        @Override
        void op()
        {
            if (reader)
            {
                bound.close();
            }
            else
            {
                alloc.release(ref);
            }
        }

        @Override
        boolean done()
        {
            return reader ? !bound.isBound() : !alloc.isLive(ref);
        }
    }

    private static final class SliceClose extends SlicePath
    {
        @Override
        void setup()
        {
            build();
            alloc.allocateLongs(4, new Ones()).release();
        }

        @Override
        void op()
        {
            alloc.close();
        }

        @Override
        boolean done()
        {
            return alloc.isClosed();
        }
    }
}
