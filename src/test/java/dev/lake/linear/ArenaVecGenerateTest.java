package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The generated bulk append, {@code addAll(count, generator)}: values in order after the existing elements, all
 * or nothing, and a generator that changes the vector or its arena under the append fails it before any store
 * lands in memory that is no longer the vector's.
 */
class ArenaVecGenerateTest
{
    @Test
    void appendsGeneratedValuesInOrderAfterTheExistingOnes()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong longs = ArenaVec.ofLongs(arena);
            longs.push(-1);
            longs.addAll(5, i -> i * 10L);
            longs.addAll(0, i -> fail("called for an empty batch"));
            assertArrayEquals(new long[]{-1, 0, 10, 20, 30, 40}, longs.toArray());

            final ArenaVec.OfInt ints = ArenaVec.ofInts(arena);
            ints.addAll(3, i -> 7 - i);
            ints.push(9);
            assertArrayEquals(new int[]{7, 6, 5, 9}, ints.toArray());

            final ArenaVec.OfDouble doubles = ArenaVec.ofDoubles(arena);
            doubles.addAll(4, i -> i + 0.5);
            assertArrayEquals(new double[]{0.5, 1.5, 2.5, 3.5}, doubles.toArray());
            assertEquals(3.5, doubles.finish().get(3));
        }
    }

    @Test
    void growsOnceForALargeBatchAndKeepsEveryValue()
    {
        try (Arena arena = Arena.builder().initialBlockSize(4096).build())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.push(42);
            final int count = 100_000; // larger than a block: the storage moves once, the pushed value with it
            vec.addAll(count, i -> (long)i * i);
            assertEquals(count + 1, vec.size());
            assertEquals(42, vec.get(0));
            for (int i = 0; i < count; i++)
            {
                assertEquals((long)i * i, vec.get(i + 1));
            }
            final ArenaView.OfLong view = vec.finish();
            assertEquals((long)(count - 1) * (count - 1), view.get(count));
        }
    }

    @Test
    void aThrowingGeneratorAppendsNothing()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfInt vec = ArenaVec.ofInts(arena);
            vec.addAll(2, i -> i + 1);
            final IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
                () -> vec.addAll(10, i ->
                {
                    if (i == 6)
                    {
                        throw new IllegalArgumentException("bad input at " + i);
                    }
                    return 100 + i;
                }));
            assertEquals("bad input at 6", thrown.getMessage());
            assertEquals(2, vec.size(), "nothing of the failed batch became an element");
            vec.push(3);
            assertArrayEquals(new int[]{1, 2, 3}, vec.toArray());
        }
    }

    @Test
    void badCountsAndGeneratorsAreRefusedAndChangeNothing()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.push(1);
            final long allocated = arena.bytesAllocated();
            assertThrows(IllegalArgumentException.class, () -> vec.addAll(-1, i -> i));
            assertThrows(NullPointerException.class, () -> vec.addAll(3, null));
            assertThrows(IllegalArgumentException.class, () -> vec.addAll(Integer.MAX_VALUE, i -> i),
                "more elements than one allocation can hold");
            assertEquals(1, vec.size());
            assertEquals(allocated, arena.bytesAllocated());

            vec.finish();
            assertThrows(StaleHandleException.class, () -> vec.addAll(1, i -> i));
        }
    }

    @Test
    void aBatchOverTheTransactionBudgetIsRefusedWhole()
    {
        try (Arena arena = new Arena(); Transaction tx = arena.transaction())
        {
            tx.setLimit(100);
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.addAll(10, i -> i);
            final long used = tx.bytesUsed();
            assertThrows(BudgetExceededException.class, () -> vec.addAll(5, i -> fail("no room, no call")));
            assertEquals(10, vec.size());
            assertEquals(used, tx.bytesUsed());
            tx.commit();
        }
    }

    @Test
    void aGeneratorThatChangesTheVectorFailsTheBatch()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.addAll(2, i -> i);
            assertThrows(IllegalStateException.class, () -> vec.addAll(4, i ->
            {
                vec.push(99);
                return i;
            }));
            assertArrayEquals(new long[]{0, 1, 99}, vec.toArray(), "only the generator's own push landed");

            assertThrows(IllegalStateException.class, () -> vec.addAll(4, i ->
            {
                vec.reserve(1 << 16); // moves or extends the storage under the batch
                return i;
            }));
            assertArrayEquals(new long[]{0, 1, 99}, vec.toArray());

            assertThrows(IllegalStateException.class, () -> vec.addAll(4, i ->
            {
                vec.truncate(0);
                return i;
            }));
            assertEquals(0, vec.size());

            final ArenaVec.OfDouble doubles = ArenaVec.ofDoubles(arena);
            assertThrows(IllegalStateException.class, () -> doubles.addAll(3, i ->
            {
                doubles.finish();
                return i;
            }));
            assertTrue(doubles.isFinished());
        }
    }

    @Test
    void aGeneratorThatResetsOrClosesTheArenaFailsBeforeStoring()
    {
        final Arena arena = new Arena();
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        vec.push(5);
        final long[] stolen = new long[1];
        assertThrows(StaleHandleException.class, () -> vec.addAll(8, i ->
        {
            if (i == 3)
            {
                arena.reset();
                stolen[0] = arena.allocate(128, 8); // takes the memory the batch was writing to
                arena.buffer(stolen[0]).setMemory(Arena.offset(stolen[0]), 128, (byte)0x55);
            }
            return -1L;
        }));
        for (int at = 0; at < 128; at += 8)
        {
            assertEquals(0x5555555555555555L, arena.buffer(stolen[0]).getLong(Arena.offset(stolen[0]) + at),
                "the batch stored nothing into memory the arena handed to someone else");
        }

        final ArenaVec.OfInt ints = ArenaVec.ofInts(arena);
        ints.push(1);
        assertThrows(StaleHandleException.class, () -> ints.addAll(4, i ->
        {
            arena.close(); // frees the blocks: a store now would be into unmapped memory
            return i;
        }));
        assertTrue(arena.isClosed());
    }

    @Test
    void aGeneratorMayAllocateFromTheArenaAndRegisterCleanups()
    {
        final List<String> cleaned = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            final long[] refs = new long[16];
            vec.addAll(16, i ->
            {
                refs[i] = arena.allocate(8, 8); // lies after the vector's storage
                arena.buffer(refs[i]).putLong(Arena.offset(refs[i]), -i);
                arena.defer(() -> cleaned.add("c" + i)); // ticks the arena's clock: checked exactly, not refused
                return i;
            });
            assertEquals(16, vec.size());
            for (int i = 0; i < 16; i++)
            {
                assertEquals(i, vec.get(i));
                assertEquals(-i, arena.buffer(refs[i]).getLong(Arena.offset(refs[i])));
            }
        }
        assertEquals(16, cleaned.size());
        assertEquals("c15", cleaned.get(0), "LIFO");
    }
}
