package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.ChildJvm;
import dev.lake.testing.HeapFiller;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Ninth review: a contract audit of {@link ArenaVec}, {@link ArenaView}, {@link LakeView}, {@link Checkpoint},
 * {@link Transaction} and the package's records and exceptions. Each promise of their Javadoc that no earlier test
 * would catch breaking gets a test here; the ones named in a commit fail without its fix.
 */
class NinthReviewLinearTest
{
    // ------------------------------------------------------------------------------------------------------
    // ArenaVec and ArenaView: indexes and sizes at their limits
    // ------------------------------------------------------------------------------------------------------

    /** Every index-taking call at -1, size() and Integer.MAX_VALUE is refused, naming nothing it changed. */
    @Test
    void indexesAtMinusOneSizeAndMaxAreRefusedAndChangeNothing()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            final ArenaVec.OfInt ints = ArenaVec.ofInts(arena);
            final ArenaVec.OfDouble doubles = ArenaVec.ofDoubles(arena);
            final ArenaVec.OfRecord records = ArenaVec.ofRecords(arena, 12);
            final UnsafeBuffer record = new UnsafeBuffer(new byte[12]);
            for (int i = 0; i < 3; i++)
            {
                longs.push(i);
                ints.push(i);
                doubles.push(i);
                record.putInt(0, i);
                records.push(record, 0);
            }
            final long bytes = arena.bytesAllocated();
            for (final int bad : new int[] {-1, 3, Integer.MAX_VALUE, Integer.MIN_VALUE})
            {
                assertThrows(IndexOutOfBoundsException.class, () -> longs.get(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> longs.set(bad, 9));
                assertThrows(IndexOutOfBoundsException.class, () -> ints.get(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> ints.set(bad, 9));
                assertThrows(IndexOutOfBoundsException.class, () -> doubles.get(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> doubles.set(bad, 9));
                assertThrows(IndexOutOfBoundsException.class, () -> records.offsetOf(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> records.get(bad, record, 0));
                assertThrows(IndexOutOfBoundsException.class, () -> records.set(bad, record, 0));
                assertThrows(IndexOutOfBoundsException.class,
                    () -> records.wrap(bad, record, (f, b, o) -> fail("wrapper called for index " + bad)));
            }
            for (final int bad : new int[] {-1, 4, Integer.MAX_VALUE, Integer.MIN_VALUE})
            {
                assertThrows(IndexOutOfBoundsException.class, () -> longs.truncate(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> records.truncate(bad));
            }
            // a record copy range past the caller's buffer is refused too, at both ends
            assertThrows(IndexOutOfBoundsException.class, () -> records.get(0, record, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> records.set(0, record, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> records.push(record, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> records.push(record, Integer.MAX_VALUE));
            assertEquals(3, longs.size());
            assertEquals(3, records.size());
            assertArrayEquals(new long[] {0, 1, 2}, longs.toArray());
            assertArrayEquals(new int[] {0, 1, 2}, ints.toArray());
            assertArrayEquals(new double[] {0, 1, 2}, doubles.toArray());
            for (int i = 0; i < 3; i++)
            {
                assertEquals(i, records.buffer().getInt(records.offsetOf(i)));
            }
            assertEquals(bytes, arena.bytesAllocated(), "nothing allocated by a refusal");

            final ArenaView.OfLong longView = longs.finish();
            final ArenaView.OfRecord recordView = records.finish();
            for (final int bad : new int[] {-1, 3, Integer.MAX_VALUE, Integer.MIN_VALUE})
            {
                assertThrows(IndexOutOfBoundsException.class, () -> longView.get(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> recordView.offsetOf(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> recordView.get(bad, record, 0));
            }
            assertThrows(IndexOutOfBoundsException.class, () -> recordView.get(2, record, 1));
            assertArrayEquals(new long[] {0, 1, 2}, longView.toArray());
        }
    }

    /**
     * Growth past the largest vector ({@code Arena.MAX_ALLOCATION / elementSize()} elements) is refused with
     * {@code IllegalArgumentException} naming the figures, by every growing call, and changes nothing; the element
     * count times the element size never wraps around an int.
     */
    @Test
    void growthPastTheLargestVectorIsRefusedNamingTheFiguresAndChangesNothing()
    {
        try (Arena arena = Arena.builder().initialBlockSize(4096).maxReservedBytes(1 << 20).build())
        {
            assertThrows(IllegalArgumentException.class, () -> ArenaVec.ofLongs(arena, Integer.MAX_VALUE));
            assertThrows(IllegalArgumentException.class, () -> ArenaVec.ofLongs(arena, -1));
            assertThrows(IllegalArgumentException.class, () -> ArenaVec.ofRecords(arena, 3, Integer.MAX_VALUE / 2));
            assertThrows(IllegalArgumentException.class, () -> ArenaVec.ofRecords(arena, 0));
            assertThrows(IllegalArgumentException.class, () -> ArenaVec.ofRecords(arena, -8));
            assertEquals(0, arena.bytesAllocated());

            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            longs.push(7);
            final int capacity = longs.capacity();
            final long bytes = arena.bytesAllocated();
            final int most = Arena.MAX_ALLOCATION / Long.BYTES;
            final IllegalArgumentException reserve = assertThrows(IllegalArgumentException.class,
                () -> longs.reserve(most));
            assertTrue(reserve.getMessage().contains(String.valueOf(most)), reserve.getMessage());
            assertTrue(reserve.getMessage().contains(String.valueOf(most + 1L)), reserve.getMessage());
            assertThrows(IllegalArgumentException.class, () -> longs.reserveExact(Integer.MAX_VALUE));
            assertThrows(IllegalArgumentException.class, () -> longs.tryReserve(Integer.MAX_VALUE));
            assertThrows(IllegalArgumentException.class, () -> longs.reserve(-1));
            assertThrows(IllegalArgumentException.class, () -> longs.addAll(Integer.MAX_VALUE, i -> i));
            // a source buffer that claims 2 GiB: refused before a byte of it is read (nor is there room for it)
            final UnsafeBuffer real = new UnsafeBuffer(ByteBuffer.allocateDirect(16));
            final UnsafeBuffer claims2GiB = new UnsafeBuffer(real.addressOffset(), Integer.MAX_VALUE - 7);
            assertThrows(IllegalArgumentException.class, () -> longs.addAll(claims2GiB, 0, most));
            assertEquals(1, longs.size());
            assertEquals(capacity, longs.capacity());
            assertEquals(7, longs.get(0));
            assertEquals(bytes, arena.bytesAllocated(), "nothing allocated by a refusal");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // ArenaVec: records, refusals of the arena, a second finish(), zero garbage
    // ------------------------------------------------------------------------------------------------------

    /**
     * Records of every size 1 to 40 (and one past a page) are packed and aligned on the absolute address to the
     * largest power of two up to 8 dividing their size, before and after a growth that moves them.
     */
    @Test
    void recordsOfOddSizesAreAlignedToTheLargestPowerOfTwoUpToEightDividingTheirSize()
    {
        try (Arena arena = Arena.builder().initialBlockSize(512).maxBlockSize(512).build())
        {
            for (final int size : new int[] {1, 2, 3, 5, 6, 7, 12, 20, 24, 40, 4097})
            {
                final int alignment = Math.min(8, Integer.lowestOneBit(size));
                arena.allocate(1, 1); // the next allocation would be misaligned for anything above 1
                final ArenaVec.OfRecord records = ArenaVec.ofRecords(arena, size);
                assertEquals(size, records.elementSize());
                for (int i = 0; i < 9; i++)
                {
                    final int index = records.pushZeroed();
                    assertEquals(i, index);
                    records.buffer().putByte(records.offsetOf(i), (byte)i);
                    arena.allocate(1, 1); // not last any more: the next growth moves the records
                    final long first = records.buffer().addressOffset() + records.offsetOf(0);
                    assertEquals(0, first % alignment, "record size " + size + " at " + first);
                    assertEquals(records.offsetOf(0) + (long)i * size, records.offsetOf(i), "packed");
                }
                for (int i = 0; i < 9; i++)
                {
                    assertEquals(i, records.buffer().getByte(records.offsetOf(i)), "kept across the moves");
                }
                final ArenaView.OfRecord view = records.finish();
                assertEquals(size, view.elementSize());
                assertEquals(0, (view.buffer().addressOffset() + view.offset()) % alignment);
                arena.reset();
            }
        }
    }

    /**
     * A growth the arena's reserve limit refuses throws {@code OutOfMemoryError} from every growing call (the class
     * Javadoc now says so) and leaves the vector as it was; {@code tryReserve} says {@code false} instead.
     */
    @Test
    void aGrowthTheReserveLimitRefusesThrowsOutOfMemoryAndChangesNothing()
    {
        try (Arena arena = Arena.builder().initialBlockSize(256).maxBlockSize(256).maxReservedBytes(256).build())
        {
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            for (int i = 0; i < 32; i++)
            {
                longs.push(i); // 32 longs fill the only block the arena may hold
            }
            final long bytes = arena.bytesAllocated();
            assertThrows(OutOfMemoryError.class, () -> longs.push(32));
            assertThrows(OutOfMemoryError.class, () -> longs.addAll(new long[] {1, 2}));
            assertThrows(OutOfMemoryError.class, () -> longs.addAll(2, i -> i));
            assertThrows(OutOfMemoryError.class, () -> longs.reserve(1));
            assertFalse(longs.tryReserve(1));
            assertThrows(OutOfMemoryError.class, () -> ArenaVec.ofInts(arena, 1));
            assertEquals(32, longs.size());
            assertEquals(32, longs.capacity());
            assertEquals(31, longs.get(31));
            assertEquals(bytes, arena.bytesAllocated());
            longs.pop();
            longs.push(-1); // room again: the fast path works as before
            assertEquals(-1, longs.get(31));
        }
    }

    /** finish() twice is refused, the vector stays dead (but still says what it was), the view stays intact. */
    @Test
    void finishTwiceIsRefusedAndTheVectorStaysDeadWhileItsViewLives()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfInt ints = ArenaVec.ofInts(arena);
            ints.addAll(new int[] {4, 5, 6});
            final ArenaView.OfInt view = ints.finish();
            assertTrue(ints.isFinished());
            assertThrows(StaleHandleException.class, ints::finish);
            assertThrows(StaleHandleException.class, ints::size);
            assertThrows(StaleHandleException.class, ints::capacity);
            assertThrows(StaleHandleException.class, ints::isEmpty);
            assertThrows(StaleHandleException.class, ints::clear);
            assertThrows(StaleHandleException.class, () -> ints.truncate(0));
            assertThrows(StaleHandleException.class, () -> ints.push(7));
            assertThrows(StaleHandleException.class, ints::pop);
            assertThrows(StaleHandleException.class, () -> ints.get(0));
            assertThrows(StaleHandleException.class, () -> ints.set(0, 1));
            assertThrows(StaleHandleException.class, () -> ints.reserve(0));
            assertThrows(StaleHandleException.class, () -> ints.reserveExact(0));
            assertThrows(StaleHandleException.class, () -> ints.tryReserve(0));
            assertThrows(StaleHandleException.class, () -> ints.addAll(new int[0]));
            assertThrows(StaleHandleException.class, () -> ints.addAll(0, i -> i));
            assertThrows(StaleHandleException.class, () -> ints.forEach(i -> fail("visited " + i)));
            assertThrows(StaleHandleException.class, ints::toArray);
            assertEquals(Integer.BYTES, ints.elementSize());
            assertEquals("OfInt[finished]", ints.toString());
            assertArrayEquals(new int[] {4, 5, 6}, view.toArray());
            assertEquals(3L * Integer.BYTES, arena.bytesAllocated(), "the unused capacity went back");
            assertEquals("OfInt[3 x 4 B]", view.toString());
            final ArenaView.OfLong empty = ArenaVec.ofLongs(arena, 4).finish();
            arena.reset();
            assertEquals("OfInt[3 x 4 B, stale]", view.toString());
            assertFalse(view.isValid());
            assertEquals(Integer.BYTES, view.elementSize());
            assertThrows(StaleHandleException.class, view::size);
            assertTrue(empty.isValid(), "an empty view has no element a reset could take");
            assertEquals(0, empty.size());
            assertEquals(0, empty.toArray().length);
            arena.close();
            assertFalse(empty.isValid());
            assertThrows(StaleHandleException.class, empty::size);
        }
    }

    private static long sink;

    /**
     * "Amortised O(1), no Java object": the vector's per-element paths (push, get, set, pop, truncate, clear,
     * {@code forEach} and {@code addAll} with non-capturing lambdas, bulk {@code addAll} from an array, record
     * {@code pushZeroed} and {@code offsetOf}) allocate nothing on the heap, checked as {@code ZeroGarbageTest} checks
     * the arena (that class covers no vector).
     */
    @Test
    void aVectorsPerElementPathsAllocateNothing()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        threads.setThreadAllocatedMemoryEnabled(true);
        final long[] values = {1, 2, 3, 4};
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena, 128);
            final ArenaVec.OfRecord records = ArenaVec.ofRecords(arena, 12, 16);
            final Runnable op = () ->
            {
                for (int i = 0; i < 64; i++)
                {
                    longs.push(i);
                }
                longs.set(3, longs.get(5) + longs.pop());
                longs.truncate(32);
                longs.addAll(8, i -> i * 3L);
                longs.addAll(values);
                longs.forEach(v -> sink += v);
                sink += longs.size() + longs.capacity();
                longs.clear();
                for (int i = 0; i < 8; i++)
                {
                    sink += records.offsetOf(records.pushZeroed());
                }
                records.pop();
                records.clear();
            };
            for (int i = 0; i < 20_000; i++)
            {
                op.run();
            }
            final long id = Thread.currentThread().getId();
            final long before = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < 200_000; i++)
            {
                op.run();
            }
            final long bytes = threads.getThreadAllocatedBytes(id) - before;
            assertTrue(bytes < 4096, () -> "the vector paths allocated " + bytes + " bytes over 200,000 operations");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // finish(): the give-back of unused capacity
    // ------------------------------------------------------------------------------------------------------

    /**
     * {@code finish()} gives the unused capacity back down to the highest checkpoint <em>still valid</em> inside it.
     * The arena's mark of its last checkpoint was lowered by every discarding rewind but the first-block fast
     * {@code reset()}, so a checkpoint from before such a reset, stale since, still stopped the give-back of a vector
     * that later grew over its position: the bytes between the data's end and that dead position stayed allocated
     * (counted in the stats and against a transaction's budget) until the next reset.
     */
    @Test
    void finishGivesBackPastACheckpointThatAFirstBlockResetMadeStale()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(1000);
            final Checkpoint old = arena.checkpoint();
            arena.reset(); // in the first block, no transaction, no cleanup: the fast reset
            assertFalse(old.isValid());
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            for (int i = 0; i < 256; i++)
            {
                longs.push(i); // grows in place over the dead checkpoint's position, to 2048 bytes
            }
            longs.truncate(1);
            final ArenaView.OfLong view = longs.finish();
            assertEquals(Long.BYTES, arena.bytesAllocated(), "everything past the one element went back");
            assertEquals(0, view.get(0));
            assertThrows(StaleHandleException.class, () -> arena.rewind(old));
        }
    }

    /** The same inside a transaction: the budget gets back what the dead checkpoint held. */
    @Test
    void finishInsideATransactionGivesBackPastACheckpointThatAFirstBlockResetMadeStale()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(1000);
            arena.checkpoint();
            arena.reset();
            try (Transaction tx = arena.transaction())
            {
                tx.setLimit(4096);
                final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
                longs.addAll(256, i -> i);
                longs.truncate(2);
                longs.finish();
                assertEquals(2L * Long.BYTES, tx.bytesUsed());
                assertEquals(4096 - 2L * Long.BYTES, tx.budgetRemaining());
                tx.commit();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Transaction: what its Javadoc promises beyond the arena's tests
    // ------------------------------------------------------------------------------------------------------

    /**
     * From a cleanup action a transaction can be neither committed, rolled back, closed, nested nor given another
     * cleanup ({@code IllegalStateException}, which their Javadoc now names), and the rollback that ran the action
     * still completes.
     */
    @Test
    void aTransactionRefusesToChangeFromInsideACleanupAction()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            final java.util.List<Class<?>> refused = new java.util.ArrayList<>();
            tx.allocate(64);
            tx.defer(() ->
            {
                for (final Runnable misuse : new Runnable[] {tx::commit, tx::rollback, tx::close, tx::savepoint,
                    () -> tx.defer(() -> { }), () -> tx.deferClose(() -> { })})
                {
                    try
                    {
                        misuse.run();
                        refused.add(Void.class);
                    }
                    catch (final RuntimeException ex)
                    {
                        refused.add(ex.getClass());
                    }
                }
            });
            tx.rollback();
            assertEquals(java.util.Collections.nCopies(6, IllegalStateException.class), refused);
            assertFalse(tx.isOpen());
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated());
        }
    }

    /**
     * {@code Transaction.buffer(ref)} keeps serving the references a committed transaction kept (the class
     * Javadoc's "every use throws once committed" now excepts it), and refuses those a rollback freed.
     */
    @Test
    void aTransactionsBufferServesTheReferencesItKeptAfterCommit()
    {
        try (Arena arena = new Arena())
        {
            final long kept;
            final Transaction committed = arena.transaction();
            kept = committed.allocate(8);
            committed.buffer(kept).putLong(Arena.offset(kept), 42);
            committed.commit();
            assertEquals(42, committed.buffer(kept).getLong(Arena.offset(kept)));
            assertThrows(IllegalStateException.class, committed::commit);
            assertThrows(IllegalStateException.class, committed::rollback);
            assertThrows(StaleHandleException.class, () -> committed.allocate(8));
            assertThrows(StaleHandleException.class, committed::savepoint);
            assertThrows(StaleHandleException.class, committed::checkpoint);
            assertThrows(StaleHandleException.class, () -> committed.setLimit(1));
            assertThrows(StaleHandleException.class, () -> committed.defer(() -> { }));
            assertThrows(IllegalArgumentException.class, () -> committed.setLimit(-1), "the value first");

            final Transaction rolledBack = arena.transaction();
            rolledBack.allocate(8);
            final long freed = rolledBack.allocate(8); // starts above the position the rollback goes back to
            rolledBack.rollback();
            assertThrows(StaleHandleException.class, () -> rolledBack.buffer(freed));
            assertEquals(42, rolledBack.buffer(kept).getLong(Arena.offset(kept)));
        }
    }

    /**
     * A transaction's allocations refused by the reserve limit throw {@code OutOfMemoryError} and bad sizes
     * {@code IllegalArgumentException} naming the value, through every mirror of the arena's allocations (their
     * Javadoc now says so); the {@code try} form returns {@code Arena.NULL}; nothing is allocated.
     */
    @Test
    void aTransactionsAllocationsRefusedByTheReserveLimitOrABadSizeThrowAndAllocateNothing()
    {
        try (Arena arena = Arena.builder().initialBlockSize(256).maxBlockSize(256).maxReservedBytes(256).build();
             Transaction tx = arena.transaction())
        {
            tx.allocate(200);
            final long bytes = arena.bytesAllocated();
            assertThrows(OutOfMemoryError.class, () -> tx.allocate(100));
            assertThrows(OutOfMemoryError.class, () -> tx.allocate(100, 8));
            assertThrows(OutOfMemoryError.class, () -> tx.allocateZeroed(100, 8));
            assertThrows(OutOfMemoryError.class, () -> tx.allocateCacheAligned(100));
            assertThrows(OutOfMemoryError.class, () -> tx.copyOf(new byte[100]));
            assertThrows(OutOfMemoryError.class, () -> tx.copyOf(new UnsafeBuffer(new byte[100]), 0, 100));
            assertThrows(OutOfMemoryError.class, () -> tx.copyOfUtf8("x".repeat(100)));
            assertEquals(Arena.NULL, tx.tryAllocate(100, 8));
            for (final int bad : new int[] {0, -1, Integer.MIN_VALUE})
            {
                final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> tx.allocate(bad));
                assertTrue(ex.getMessage().contains(String.valueOf(bad)), ex.getMessage());
                assertThrows(IllegalArgumentException.class, () -> tx.allocateZeroed(bad, 8));
                assertThrows(IllegalArgumentException.class, () -> tx.allocateCacheAligned(bad));
            }
            assertThrows(IndexOutOfBoundsException.class, () -> tx.copyOf(new UnsafeBuffer(new byte[8]), 4, 8));
            assertThrows(NullPointerException.class, () -> tx.place(null, 8, 8, (f, b, o) -> { }));
            assertThrows(NullPointerException.class, () -> tx.place(new UnsafeBuffer(new byte[0]), 8, 8, null));
            assertEquals(bytes, arena.bytesAllocated());
        }
    }

    /**
     * {@code TxnDiff.allocationCount} counts one per allocation through every allocating call of a transaction and
     * of the arena inside it, a vector growth that moves counts one (also when doubling is refused and the exact
     * growth is taken), one in place none, and a finish() none.
     */
    @Test
    void theAllocationCountIsOnePerAllocationWhateverTheCall()
    {
        try (Arena arena = Arena.builder().initialBlockSize(4096).maxBlockSize(4096).build();
             Transaction tx = arena.transaction())
        {
            long expected = 0;
            final Runnable[] calls = {() -> tx.allocate(8), () -> tx.allocate(8, 16), () -> tx.tryAllocate(8, 1),
                () -> tx.allocateZeroed(24, 8), () -> tx.allocateCacheAligned(8), () -> tx.copyOf(new byte[3]),
                () -> tx.copyOf(new UnsafeBuffer(new byte[5]), 1, 3), () -> tx.copyOfUtf8("h\u00e9llo"),
                () -> tx.place(new UnsafeBuffer(new byte[0]), 16, 8, (f, b, o) -> { }), () -> arena.allocate(8),
                () -> arena.copyOf(new long[] {1, 2}), () -> arena.copyOfAscii("abc"), () -> arena.copyOf(new int[] {1}),
                () -> arena.tryAllocateZeroed(8, 8), () -> arena.tryCopyOfUtf8("x")};
            for (final Runnable call : calls)
            {
                call.run();
                assertEquals(++expected, tx.diff().allocationCount(), "after call " + expected);
            }
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            assertEquals(expected, tx.diff().allocationCount(), "an empty vector allocates nothing");
            longs.push(1);
            assertEquals(++expected, tx.diff().allocationCount(), "the first storage");
            longs.addAll(100, i -> i); // last: grows in place
            assertEquals(expected, tx.diff().allocationCount(), "growth in place");
            arena.allocate(8);
            expected++;
            longs.reserve(1000); // not last: moves
            assertEquals(++expected, tx.diff().allocationCount(), "growth that moves");
            arena.allocate(8);
            expected++;
            final int needed = longs.capacity() + 1;
            tx.setLimit(tx.bytesUsed() + needed * 8L + 8); // doubling refused by the budget, exact growth taken
            longs.addAll(needed - longs.size(), i -> i);
            assertEquals(needed, longs.capacity());
            assertEquals(++expected, tx.diff().allocationCount(), "exact growth after a refused doubling");
            longs.finish();
            assertEquals(expected, tx.diff().allocationCount(), "finish");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // LakeView
    // ------------------------------------------------------------------------------------------------------

    /**
     * A view its parent rewound over: every call that allocates, rewinds or opens a handle throws
     * {@code StaleHandleException}; the status queries answer (used and remaining 0, invalid) and {@code close()}
     * does nothing, as the class Javadoc now says instead of "every later operation throws".
     */
    @Test
    void aStaleViewRefusesEveryChangeAndItsStatusQueriesReportZero()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(1024);
            view.allocate(100);
            final int position = view.position();
            lake.reset();
            assertFalse(view.isValid());
            assertEquals(0, view.used());
            assertEquals(0, view.remaining());
            assertEquals(1024, view.capacity());
            assertEquals(0, view.markDepth());
            assertEquals(0, view.openSandboxes());
            assertEquals(new LakeStats(0, 0, 1024, 0, 0, 0), view.stats());
            assertSame(lake, view.lake());
            assertSame(lake, view.parent());
            assertTrue(view.toString().startsWith("LakeView["), view.toString());
            for (final Runnable change : new Runnable[] {() -> view.allocate(8), () -> view.tryAllocate(8),
                () -> view.droplet(8), () -> view.split(8), view::sandbox, view::beginSandbox, view::mark,
                view::resetToMark, view::snapshot, view::reset, view::clear, () -> view.allocateLongs(1),
                () -> view.process((b, o, c) -> 0)})
            {
                assertThrows(StaleHandleException.class, change::run);
            }
            view.close(); // does nothing on an invalid view
            assertEquals(position, view.position());
            assertEquals(0, lake.used());
        }
    }

    /**
     * {@code LakeView.close()}: a mark or a sandbox of the parent opened after the view keeps the view (valid, empty,
     * its droplets dead), whose bytes come back with the parent's next rewind below it; a zeroing view's bytes are
     * wiped whether or not they go back; a mark opened before the view does not block the give-back.
     */
    @Test
    void closingAViewThatAParentMarkOrSandboxFollowsKeepsItEmptyAndWipesAZeroingOne()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(8);
            lake.mark(); // before the view: no obstacle
            final LakeView view = lake.split(256);
            view.setZeroing(true);
            final int secret = view.allocate(64);
            lake.buffer().setMemory(secret, 64, (byte)0x7F);
            final Droplet droplet = view.droplet(16);
            lake.mark(); // after the view: the close must not give its bytes back across it
            view.close();
            assertTrue(view.isValid());
            assertEquals(0, view.used());
            assertFalse(droplet.isValid());
            assertEquals(8 + 256, lake.position());
            for (int i = 0; i < 64; i++)
            {
                assertEquals(0, lake.buffer().getByte(secret + i), "wiped on close");
            }
            lake.resetToMark(); // drops the later mark: nothing else moves
            assertTrue(view.isValid());
            view.close();
            assertFalse(view.isValid());
            assertEquals(8, lake.position(), "the give-back stops at the earlier mark's position, not below");

            final LakeView second = lake.split(128);
            final Sandbox sandbox = lake.sandbox();
            second.close();
            assertTrue(second.isValid(), "a sandbox opened after it keeps it");
            assertEquals(8 + 128, lake.position());
            sandbox.rollback();
            assertTrue(second.isValid(), "the sandbox's rollback does not go below the view");
            second.close();
            assertEquals(8, lake.position());
            lake.resetToMark();
            assertEquals(8, lake.position());
        }
    }

    /** Closing a view of a lake confined to another thread is refused and changes nothing (now in its Javadoc). */
    @Test
    void closingAViewOfALakeConfinedToAnotherThreadIsRefused() throws Exception
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(1024);
            view.allocate(64);
            final Thread other = new Thread(() -> { });
            lake.confineTo(other);
            final IllegalStateException ex = assertThrows(IllegalStateException.class, view::close);
            assertTrue(ex.getMessage().contains("confined"), ex.getMessage());
            lake.confineTo(null);
            assertTrue(view.isValid());
            assertEquals(64, view.used());
            assertEquals(1024, lake.used());
            view.close();
            assertEquals(0, lake.used(), "the last allocation's bytes went back to the lake");
            assertFalse(view.isValid());
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Full heap: a handle the heap refuses changes nothing
    // ------------------------------------------------------------------------------------------------------

    /**
     * {@code Transaction.savepoint()} writes {@code new Transaction(arena, depth + 1, arena.begin(depth, serial))}:
     * the object is allocated before its arguments are evaluated (JLS 15.9.4), so a full heap refuses it before the
     * savepoint is opened, and no orphan savepoint blocks the outer transaction ({@code Arena.transaction()} needed
     * an explicit undo for the same refusal in the seventh round, because it opens first). Pinned so that a
     * refactoring that opens first (a local for the serial) is caught. Passes before and after this round.
     */
    @Test
    void aSavepointRefusedByAFullHeapLeavesNoSavepointOpen() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(FullHeapProbe.class, "savepoint");
        assertProbe(out, "savepoint");
    }

    /**
     * {@code finish()} allocates its view before {@code finishStorage()} marks the vector finished and gives its
     * capacity back (the same evaluation order), so a full heap refusing the view leaves the vector alive and a retry
     * returns the view with every element. Pinned like the savepoint; passes before and after this round.
     */
    @Test
    void finishRefusedByAFullHeapLeavesTheVectorUsable() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(FullHeapProbe.class, "finish");
        assertProbe(out, "finish");
    }

    private static void assertProbe(final String out, final String mode)
    {
        final Matcher m = Pattern.compile("probe " + mode + ": changed by a refusal (\\d+), broken (\\d+) after (\\d+) " +
            "refusals, (\\d+) done").matcher(out);
        assertTrue(m.find(), out);
        assertNotEquals("0", m.group(3), "the heap did refuse some: " + out);
        assertEquals("0", m.group(1), "a refusal changed nothing: " + out);
        assertEquals("0", m.group(2), "everything works once the heap is free: " + out);
    }

    /**
     * The child JVM of the full-heap tests: prepares 400 arenas one step before making a handle, fills the 24 MiB
     * heap, then takes that step on each, freeing one filler every other arena, so that the handle meets the
     * {@code OutOfMemoryError}. Counts the arenas a refusal left changed, and those broken once the heap is free.
     */
    static final class FullHeapProbe
    {
        private static final int ARENAS = 400;

        private FullHeapProbe()
        {
        }

        public static void main(final String[] args)
        {
            final String mode = args[0];
            final Arena[] arenas = new Arena[ARENAS];
            final Transaction[] outers = new Transaction[ARENAS];
            final ArenaVec.OfLong[] vectors = new ArenaVec.OfLong[ARENAS];
            for (int i = 0; i < ARENAS; i++)
            {
                arenas[i] = Arena.builder().initialBlockSize(256).maxBlockSize(256).build();
                if ("savepoint".equals(mode))
                {
                    outers[i] = arenas[i].transaction();
                    outers[i].savepoint().close(); // loads the path and grows the transaction array first
                }
                else
                {
                    final ArenaVec.OfLong warm = ArenaVec.ofLongs(arenas[i]);
                    warm.push(1);
                    warm.finish();
                    arenas[i].reset();
                    vectors[i] = ArenaVec.ofLongs(arenas[i]);
                    for (int k = 0; k < 3; k++)
                    {
                        vectors[i].push(k);
                    }
                }
            }
            int refused = 0;
            int done = 0;
            int changed = 0;
            final boolean[] wasRefused = new boolean[ARENAS];
            final Throwable[] errors = new Throwable[ARENAS];
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            for (int i = 0; i < ARENAS; i++)
            {
                if (i % 2 == 1 && !fillers.freeOne())
                {
                    break;
                }
                try
                {
                    if ("savepoint".equals(mode))
                    {
                        outers[i].savepoint().close();
                    }
                    else
                    {
                        vectors[i].finish();
                    }
                    done++;
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                    wasRefused[i] = true;
                    errors[i] = ex;
                    final boolean same = "savepoint".equals(mode) ?
                        arenas[i].transactionDepth() == 1 :
                        !vectors[i].isFinished() && arenas[i].bytesAllocated() == 8 * 8;
                    if (!same)
                    {
                        changed++;
                    }
                }
            }
            fillers.freeAll();
            if (System.getProperty("probe.trace") != null)
            {
                for (final Throwable t : errors)
                {
                    if (t != null)
                    {
                        t.printStackTrace(System.out);
                    }
                }
            }
            int broken = 0;
            for (int i = 0; i < ARENAS; i++)
            {
                try
                {
                    if (!worksAfter(mode, arenas[i], outers[i], vectors[i], wasRefused[i]))
                    {
                        broken++;
                    }
                }
                catch (final RuntimeException ex)
                {
                    broken++;
                    if (broken == 1)
                    {
                        ex.printStackTrace(System.out);
                    }
                }
                arenas[i].close();
            }
            System.out.println("probe " + mode + ": changed by a refusal " + changed + ", broken " + broken + " after " +
                refused + " refusals, " + done + " done");
            System.out.flush();
        }

        private static boolean worksAfter(final String mode, final Arena arena, final Transaction outer,
            final ArenaVec.OfLong vector, final boolean refused)
        {
            if ("savepoint".equals(mode))
            {
                outer.allocate(8); // refused while an orphan savepoint is open inside
                outer.commit();
                return arena.transactionDepth() == 0;
            }
            if (!refused)
            {
                return true;
            }
            final ArenaView.OfLong view = vector.finish(); // the retry returns the view
            return view.size() == 3 && view.get(2) == 2 && arena.bytesAllocated() == 3 * 8;
        }
    }
}
