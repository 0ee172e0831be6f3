package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.PrimitiveIterator;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

class ArenaVecTest
{
    @Test
    void longVectorPushPopGetSetAndFinish()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            assertTrue(vec.isEmpty());
            assertEquals(0, vec.capacity());
            for (int i = 0; i < 1024; i++)
            {
                vec.push(i);
            }
            assertEquals(1024, vec.size());
            assertEquals(512, vec.get(512));
            vec.set(512, -1);
            assertEquals(-1, vec.get(512));
            assertEquals(1023, vec.pop());
            assertEquals(1023, vec.size());
            final ArenaView.OfLong view = vec.finish();
            assertTrue(vec.isFinished());
            assertEquals(1023, view.size());
            assertEquals(-1, view.get(512));
            assertEquals(1022, view.get(1022));
            assertEquals(1023 * 8, arena.bytesAllocated(), "unused capacity went back to the arena");
            assertThrows(IndexOutOfBoundsException.class, () -> view.get(1023));
            assertThrows(IndexOutOfBoundsException.class, () -> view.get(-1));
            final long[] all = view.toArray();
            assertEquals(1023, all.length);
            final AtomicLong sum = new AtomicLong();
            view.forEach(sum::addAndGet);
            long expected = -1 - 512;
            for (int i = 0; i < 1023; i++)
            {
                expected += i;
            }
            assertEquals(expected, sum.get());
            assertEquals(view.offset(), view.buffer() == null ? -1 : view.offset());
            assertTrue(view.isValid());
        }
    }

    @Test
    void growsInPlaceWhenLastAndCopiesOtherwise()
    {
        // Allocations are counted for TxnDiff, so count them inside a transaction.
        try (Arena arena = Arena.withCapacity(1 << 16); Transaction tx = arena.transaction())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.push(1);
            final long allocationsAfterFirst = allocations(tx);
            assertEquals(1, allocationsAfterFirst, "first push allocates");
            for (int i = 2; i <= 100; i++)
            {
                vec.push(i);
            }
            assertEquals(allocationsAfterFirst, allocations(tx), "grew in place: no new allocation");
            assertEquals(vec.capacity() * 8L, arena.bytesAllocated());

            arena.allocate(8, 8); // the vector is no longer the last allocation
            final int capacity = vec.capacity();
            for (int i = 101; i <= capacity + 1; i++)
            {
                vec.push(i);
            }
            assertEquals(allocationsAfterFirst + 2, allocations(tx), "moved once");
            for (int i = 0; i < vec.size(); i++)
            {
                assertEquals(i + 1, vec.get(i), "contents copied");
            }
            tx.commit();
        }
    }

    @Test
    void pushFastPathStillFailsAfterFinishRewindResetAndClose()
    {
        try (Arena arena = Arena.withCapacity(1 << 16))
        {
            final ArenaVec.OfLong finished = ArenaVec.ofLongs(arena, 16);
            finished.push(1);
            finished.finish();
            assertThrows(StaleHandleException.class, () -> finished.push(2), "room left, but finished");

            final Checkpoint cp = arena.checkpoint();
            final ArenaVec.OfLong rewound = ArenaVec.ofLongs(arena, 16);
            rewound.push(1);
            arena.rewind(cp);
            assertThrows(StaleHandleException.class, () -> rewound.push(2), "room left, but rewound below");

            final ArenaVec.OfLong survivor = ArenaVec.ofLongs(arena, 16);
            survivor.push(7);
            arena.defer(() -> { }); // ticks the clock without freeing the vector's memory
            survivor.push(8);
            assertEquals(2, survivor.size());
            assertEquals(8, survivor.get(1));

            arena.reset();
            assertThrows(StaleHandleException.class, () -> survivor.push(9), "reset");

            final ArenaVec.OfLong open = ArenaVec.ofLongs(arena, 16);
            open.push(1);
            arena.close();
            assertThrows(StaleHandleException.class, () -> open.push(2), "closed");
        }
    }

    @Test
    void intDoubleAndRecordPushFastPathsFailAfterFinishRewindAndClose()
    {
        try (Arena arena = Arena.withCapacity(1 << 16))
        {
            final ArenaVec.OfInt ints = ArenaVec.ofInts(arena, 16);
            final ArenaVec.OfDouble doubles = ArenaVec.ofDoubles(arena, 16);
            final ArenaVec.OfRecord records = ArenaVec.ofRecords(arena, 12, 16);
            final UnsafeBuffer record = new UnsafeBuffer(new byte[12]);
            record.putInt(8, 42);
            for (int i = 0; i < 40; i++) // past the presized capacity: growth by copy, none is the last
            {
                ints.push(i);
                doubles.push(i + 0.5);
                records.push(record, 0);
            }
            assertEquals(39, ints.get(39));
            assertEquals(39.5, doubles.get(39));
            assertEquals(42, records.buffer().getInt(records.offsetOf(39) + 8));
            assertThrows(IndexOutOfBoundsException.class, () -> records.push(record, 4), "record outside src");
            assertEquals(40, records.size(), "a refused push changes nothing");

            ints.finish();
            doubles.finish();
            records.finish();
            assertThrows(StaleHandleException.class, () -> ints.push(1), "room left, but finished");
            assertThrows(StaleHandleException.class, () -> doubles.push(1), "room left, but finished");
            assertThrows(StaleHandleException.class, () -> records.push(record, 0), "finished");
            assertThrows(StaleHandleException.class, records::pushZeroed, "finished");

            final Checkpoint cp = arena.checkpoint();
            final ArenaVec.OfInt rewoundInts = ArenaVec.ofInts(arena, 16);
            final ArenaVec.OfDouble rewoundDoubles = ArenaVec.ofDoubles(arena, 16);
            final ArenaVec.OfRecord rewoundRecords = ArenaVec.ofRecords(arena, 12, 16);
            rewoundInts.push(1);
            rewoundDoubles.push(1);
            rewoundRecords.pushZeroed();
            arena.rewind(cp);
            assertThrows(StaleHandleException.class, () -> rewoundInts.push(2), "rewound below");
            assertThrows(StaleHandleException.class, () -> rewoundDoubles.push(2), "rewound below");
            assertThrows(StaleHandleException.class, rewoundRecords::pushZeroed, "rewound below");

            final ArenaVec.OfInt openInts = ArenaVec.ofInts(arena, 16);
            final ArenaVec.OfDouble openDoubles = ArenaVec.ofDoubles(arena, 16);
            openInts.push(1);
            openDoubles.push(1);
            arena.close();
            assertThrows(StaleHandleException.class, () -> openInts.push(2), "closed");
            assertThrows(StaleHandleException.class, () -> openDoubles.push(2), "closed");
        }
    }

    @Test
    void bulkAppendsCopyWholeRangesAndRefuseBadRangesUnchanged()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfDouble doubles = ArenaVec.ofDoubles(arena);
            doubles.addAll(new double[]{1.5, 2.5});
            doubles.addAll(new double[]{9, 3.5, 4.5, 9}, 1, 2);
            final UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(16));
            src.putDouble(8, 5.5);
            doubles.addAll(src, 8, 1);
            assertArrayEquals(new double[]{1.5, 2.5, 3.5, 4.5, 5.5}, doubles.toArray());
            assertThrows(IndexOutOfBoundsException.class, () -> doubles.addAll(new double[2], 1, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> doubles.addAll(src, 8, 2));
            assertEquals(5, doubles.size(), "refused appends change nothing");

            final long[] big = new long[10_000];
            for (int i = 0; i < big.length; i++)
            {
                big[i] = i * 3L;
            }
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            longs.push(-1);
            longs.addAll(big, 1, big.length - 1);
            assertEquals(big.length, longs.size());
            assertEquals(-1, longs.get(0));
            assertEquals(3L * (big.length - 1), longs.get(big.length - 1));
            final ArenaView.OfLong view = longs.finish();
            assertEquals(3L * 5000, view.get(5000));

            final int[] ints = {7, 8, 9};
            final ArenaVec.OfInt heapBacked = ArenaVec.ofInts(arena);
            heapBacked.addAll(new UnsafeBuffer(new byte[]{1, 0, 0, 0, 2, 0, 0, 0}), 0, 2); // heap source buffer
            heapBacked.addAll(ints, 0, 0);
            heapBacked.addAll(ints);
            assertEquals(5, heapBacked.size());
            assertEquals(java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN ? 2 : 2 << 24,
                heapBacked.get(1));
            assertEquals(9, heapBacked.get(4));
            assertEquals(0, ArenaVec.ofLongs(arena).toArray().length, "empty toArray copies nothing");

            final long copy = arena.copyOf(new double[]{0.25, 0.75});
            assertEquals(0.75, arena.buffer(copy).getDouble(Arena.offset(copy) + 8));
            final long copyInts = arena.copyOf(ints);
            assertEquals(8, arena.buffer(copyInts).getInt(Arena.offset(copyInts) + 4));
        }
    }

    private static long allocations(final Transaction tx)
    {
        return tx.diff().allocationCount();
    }

    @Test
    void growsAcrossBlocks()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            final ArenaVec.OfInt vec = ArenaVec.ofInts(arena);
            for (int i = 0; i < 100_000; i++)
            {
                vec.push(i * 3);
            }
            assertTrue(arena.blockCount() > 3);
            for (int i = 0; i < 100_000; i++)
            {
                assertEquals(i * 3, vec.get(i));
            }
            final ArenaView.OfInt view = vec.finish();
            assertEquals(299_997, view.get(99_999));
            assertArrayEquals(vec.getClass() == ArenaVec.OfInt.class ? view.toArray() : null, view.toArray());
        }
    }

    @Test
    void clearTruncateReserveAndTryReserve()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfDouble vec = ArenaVec.ofDoubles(arena, 4);
            assertEquals(4, vec.capacity());
            vec.addAll(new double[]{1, 2, 3, 4, 5});
            assertEquals(5, vec.size());
            vec.truncate(2);
            assertArrayEquals(new double[]{1, 2}, vec.toArray());
            vec.reserve(100);
            assertTrue(vec.capacity() >= 102);
            vec.reserveExact(200);
            assertEquals(202, vec.capacity());
            assertTrue(vec.tryReserve(10));
            vec.clear();
            assertEquals(0, vec.size());
            assertEquals(202, vec.capacity());
            vec.push(2.5);
            assertEquals(2.5, vec.pop());
            final double[] sum = {0};
            vec.push(1.5);
            vec.push(2.0);
            vec.forEach(v -> sum[0] += v);
            assertEquals(3.5, sum[0]);
            vec.set(0, 9.0);
            assertEquals(9.0, vec.get(0));
            final ArenaView.OfDouble view = vec.finish();
            assertArrayEquals(new double[]{9.0, 2.0}, view.toArray());
            view.forEach(v -> sum[0] += v);
            assertEquals(14.5, sum[0]);
        }
    }

    @Test
    void extendsFromArraysAndBuffers()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            longs.addAll(new long[]{1, 2, 3});
            longs.addAll(new long[]{9, 4, 5, 9}, 1, 2);
            final UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(24));
            src.putLong(8, 6);
            src.putLong(16, 7);
            longs.addAll(src, 8, 2);
            assertArrayEquals(new long[]{1, 2, 3, 4, 5, 6, 7}, longs.toArray());
            assertThrows(IndexOutOfBoundsException.class, () -> longs.addAll(src, 16, 2));
            assertEquals(7, longs.size());

            final ArenaVec.OfInt ints = ArenaVec.ofInts(arena);
            ints.addAll(new int[]{1, 2});
            src.putInt(0, 3);
            ints.addAll(src, 0, 1);
            assertArrayEquals(new int[]{1, 2, 3}, ints.toArray());
            final int[] total = {0};
            ints.forEach(v -> total[0] += v);
            assertEquals(6, total[0]);
            ints.set(0, 10);
            assertEquals(3, ints.pop());
            final ArenaView.OfInt view = ints.finish();
            final int[] viewTotal = {0};
            view.forEach(v -> viewTotal[0] += v);
            assertEquals(12, viewTotal[0]);
            assertEquals(10, view.get(0));
        }
    }

    @Test
    void iteratesWithoutBoxing()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.addAll(new long[]{5, 6, 7});
            final PrimitiveIterator.OfLong it = vec.iterator();
            long sum = 0;
            while (it.hasNext())
            {
                sum += it.nextLong();
            }
            assertEquals(18, sum);
            assertThrows(java.util.NoSuchElementException.class, it::nextLong);
        }
    }

    @Test
    void recordVector()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 12);
            assertEquals(12, vec.elementSize());
            final UnsafeBuffer record = new UnsafeBuffer(new byte[12]);
            for (int i = 0; i < 50; i++)
            {
                record.putInt(0, i);
                record.putLong(4, i * 10L);
                vec.push(record, 0);
            }
            final int zeroed = vec.pushZeroed();
            assertEquals(50, zeroed);
            assertEquals(0, vec.buffer().getLong(vec.offsetOf(zeroed) + 4));
            vec.pop();
            assertEquals(50, vec.size());
            assertEquals(0, (vec.buffer().addressOffset() + vec.offsetOf(0)) % 4, "aligned to 4 for 12-byte records");

            final UnsafeBuffer out = new UnsafeBuffer(new byte[12]);
            vec.get(7, out, 0);
            assertEquals(7, out.getInt(0));
            assertEquals(70, out.getLong(4));
            record.putInt(0, 700);
            vec.set(7, record, 0);
            assertEquals(700, vec.buffer().getInt(vec.offsetOf(7)));
            final ArenaTest.Flyweight fly = vec.wrap(8, new ArenaTest.Flyweight(), ArenaTest.Flyweight::wrap);
            assertEquals(8, fly.buffer.getInt(fly.offset));
            assertThrows(IndexOutOfBoundsException.class, () -> vec.get(0, out, 4));
            final int[] count = {0};
            vec.forEach((buffer, offset) -> count[0] += buffer.getInt(offset) >= 0 ? 1 : 0);
            assertEquals(50, count[0]);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[36]);
            vec.addAll(batch, 0, 3);
            assertEquals(53, vec.size());

            final ArenaView.OfRecord view = vec.finish();
            assertEquals(53, view.size());
            view.get(7, out, 0);
            assertEquals(700, out.getInt(0));
            assertEquals(49, view.buffer().getInt(view.offsetOf(49)));
            final int[] seen = {0};
            view.forEach((buffer, offset) -> seen[0]++);
            assertEquals(53, seen[0]);
        }
    }

    @Test
    void growthCountsAgainstTheBudgetAndARefusalChangesNothing()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction tx = arena.transaction())
            {
                tx.setLimit(100);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                for (int i = 0; i < 12; i++)
                {
                    vec.push(i); // 8, then 12 elements (doubling refused, exact growth allowed)
                }
                assertEquals(12, vec.capacity());
                final long used = tx.bytesUsed();
                assertEquals(96, used);
                assertThrows(BudgetExceededException.class, () -> vec.push(12));
                assertFalse(vec.tryReserve(1));
                assertEquals(12, vec.size());
                assertEquals(12, vec.capacity());
                assertEquals(used, tx.bytesUsed());
                assertEquals(11, vec.get(11));
                tx.commit();
            }
        }
    }

    @Test
    void vectorInsideATransactionSurvivesCommitAndDiesWithRollback()
    {
        try (Arena arena = new Arena())
        {
            final ArenaView.OfLong kept;
            try (Transaction tx = arena.transaction())
            {
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(tx.arena());
                vec.addAll(new long[]{1, 2, 3});
                kept = vec.finish();
                tx.commit();
            }
            assertEquals(3, kept.get(2));
            final ArenaVec.OfLong lost;
            final ArenaView.OfLong lostView;
            try (Transaction tx = arena.transaction())
            {
                lost = ArenaVec.ofLongs(tx.arena());
                lost.push(1);
                final ArenaVec.OfLong other = ArenaVec.ofLongs(tx.arena());
                other.push(2);
                lostView = other.finish();
            }
            assertThrows(StaleHandleException.class, () -> lost.push(2));
            assertThrows(StaleHandleException.class, () -> lostView.get(0));
            assertFalse(lostView.isValid());
            assertEquals(3, kept.get(2), "the committed view is untouched");
            assertTrue(kept.isValid());
        }
    }

    @Test
    void aVectorAllocatedBeforeACheckpointSurvivesRewindsAboveIt()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(1);
            final Checkpoint cp = arena.checkpoint();
            arena.allocate(64, 8);
            arena.rewind(cp);
            vec.push(2); // still valid; and still the last allocation, so it grows in place
            assertEquals(2, vec.get(1));
            arena.reset();
            assertThrows(StaleHandleException.class, vec::size);
        }
    }

    @Test
    void finishingInsideATransactionNeverGivesBackBytesBelowItsStart()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 8);
            vec.push(1);
            try (Transaction tx = arena.transaction())
            {
                final ArenaView.OfLong view = vec.finish(); // capacity 8, size 1: the tail predates tx
                assertEquals(64, arena.bytesAllocated());
                assertEquals(0, tx.bytesUsed());
                assertEquals(1, view.get(0));
                tx.commit();
            }
            final ArenaVec.OfLong grown = ArenaVec.ofLongs(arena, 1);
            grown.push(1);
            final long before = arena.bytesAllocated();
            try (Transaction tx = arena.transaction())
            {
                grown.push(2); // grows in place into the transaction
                final ArenaView.OfLong view = grown.finish();
                assertEquals(before + 8, arena.bytesAllocated(), "tail given back down to the data end");
                assertEquals(8, tx.bytesUsed());
                assertEquals(2, view.get(1));
            }
            assertEquals(before, arena.bytesAllocated());
        }
    }

    @Test
    void emptyVectorFinishesToAnEmptyView()
    {
        try (Arena arena = new Arena())
        {
            final ArenaView.OfLong view = ArenaVec.ofLongs(arena).finish();
            assertEquals(0, view.size());
            assertEquals(0, view.toArray().length);
            assertThrows(IndexOutOfBoundsException.class, () -> view.get(0));
            arena.reset();
            assertEquals(0, view.size());
            arena.close();
            assertThrows(StaleHandleException.class, view::size);
        }
    }
}
