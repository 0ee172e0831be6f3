package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ids that tell one sandbox (or transaction) from another at the same depth: {@link TokenIds#next} for tokens
 * (process-wide blocks), a count down from -1 per lake or view for {@link Sandbox} objects. A stale handle of either
 * kind must never name a later sandbox of the other kind, and no id may repeat across a block's end.
 */
class SandboxIdTest
{
    @Test
    void nextWalksBlocksThatDoubleUpToTheLargestThenStay()
    {
        final Set<Long> seen = new HashSet<>();
        long id = TokenIds.next(TokenIds.NONE);
        long expected = TokenIds.FIRST_BLOCK;
        for (int block = 0; block < TokenIds.LEVELS + 2; block++)
        {
            final long first = id;
            assertTrue(first >= 2 && first < TokenIds.ID_LIMIT, "first id of a block: " + first);
            assertEquals(1, Math.floorMod(first, expected), "a block's ids start 1 past a multiple of its size");
            assertEquals(Math.min(block, TokenIds.LEVELS - 1), TokenIds.level(first), "the id's region names its size");
            long inBlock = 0;
            while (true)
            {
                assertTrue(seen.add(id), "id " + id + " handed out twice");
                inBlock++;
                final long next = TokenIds.next(id);
                if (next != id + 1)
                {
                    assertEquals(0, Math.floorMod(id + 1, expected), "only the block's end ends the walk");
                    id = next;
                    break;
                }
                assertNotEquals(0, Math.floorMod(next, expected), "the block's end is never handed out");
                id = next;
            }
            assertEquals(expected - 1, inBlock, "every id of the block but its end");
            expected = Math.min(expected * 2, TokenIds.BLOCK);
        }
    }

    /**
     * The wrap that a process making a fresh view per message used to reach after 2^32 - 1 messages (every fresh
     * allocator took a block of 65,536 ids at its first token): a first token now takes a block of 16 from a region
     * of 2^43 - 2 such blocks (the wrap itself: {@code LakeThirdReviewTest}), and a token handed to the wrong fresh
     * view is refused.
     */
    @Test
    void aFreshViewPerMessageSpendsOneSmallBlockAndRefusesTheOthersTokens()
    {
        try (Lake lake = Lake.of(1 << 16))
        {
            final long before = TokenIds.blocksTaken(0);
            long previous = 0;
            LakeView previousView = null;
            for (int message = 0; message < 1000; message++)
            {
                final LakeView view = lake.split(64);
                final long token = view.beginSandbox();
                assertEquals(0, TokenIds.level(token >>> 16), "a fresh view's first token comes from a first block");
                if (previousView != null)
                {
                    final long stale = previous;
                    assertThrows(StaleHandleException.class, () -> view.commitSandbox(stale), "another view's token");
                }
                view.commitSandbox(token);
                previous = token;
                previousView = view;
                lake.reset();
            }
            assertTrue(TokenIds.blocksTaken(0) - before >= 1000, "one first block per fresh view");
        }
    }

    @Test
    void twoAllocatorsInterleavingNeverShareAnId()
    {
        final Set<Long> seen = new HashSet<>();
        long a = TokenIds.NONE;
        long b = TokenIds.NONE;
        for (int i = 0; i < 3 * (int)TokenIds.BLOCK; i++)
        {
            a = TokenIds.next(a);
            b = TokenIds.next(b);
            assertTrue(seen.add(a), "id " + a + " handed out twice");
            assertTrue(seen.add(b), "id " + b + " handed out twice");
        }
    }

    @Test
    void sandboxObjectsCountDownAndTokensStayPositive() throws ReflectiveOperationException
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(1024);
            for (final LakeAllocator allocator : new LakeAllocator[] {lake, view})
            {
                try (Sandbox outer = allocator.sandbox(); Sandbox inner = allocator.sandbox())
                {
                    assertEquals(-1, storedId(allocator, 0), "the first object of " + allocator);
                    assertEquals(-2, storedId(allocator, 1));
                    inner.commit();
                    outer.commit();
                }
                final long token = allocator.beginSandbox();
                assertTrue(storedId(allocator, 0) > 0, "a token's id is positive");
                assertEquals(token >>> 16, storedId(allocator, 0));
                allocator.endSandbox(token);
                try (Sandbox third = allocator.sandbox())
                {
                    assertEquals(-3, storedId(allocator, 0), "objects count on past the token");
                }
            }
        }
    }

    @Test
    void aStaleSandboxNeverNamesALaterTokenAtItsDepthAndStart()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(2048);
            for (final LakeAllocator allocator : new LakeAllocator[] {view, lake}) // the lake's reset ends the view
            {
                allocator.allocate(8);
                final Sandbox stale = allocator.sandbox();
                allocator.allocate(64);
                allocator.reset(); // below its start: invalidated
                allocator.allocate(8);
                final long token = allocator.beginSandbox(); // same depth, same start: only the id tells them apart
                allocator.allocate(32);
                assertFalse(stale.isOpen());
                assertThrows(StaleHandleException.class, stale::commit);
                stale.close();
                assertEquals(1, allocator.openSandboxes(), "the stale object ended the token's sandbox");
                assertEquals(40, allocator.used(), "closing the stale object rolled something back");
                allocator.endSandbox(token);
                assertEquals(8, allocator.used(), "the token's sandbox rolls back as its own");
                allocator.reset();
            }
        }
    }

    @Test
    void aStaleTokenNeverNamesALaterSandboxAtItsDepthAndStart()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(2048);
            for (final LakeAllocator allocator : new LakeAllocator[] {view, lake}) // the lake's reset ends the view
            {
                allocator.allocate(8);
                final long token = allocator.beginSandbox();
                allocator.allocate(64);
                allocator.reset(); // below the token's start: it is invalidated
                allocator.allocate(8);
                try (Sandbox later = allocator.sandbox())
                {
                    allocator.allocate(16);
                    assertThrows(StaleHandleException.class, () -> allocator.commitSandbox(token));
                    allocator.endSandbox(token);
                    assertTrue(later.isOpen(), "ending a stale token ended the later sandbox");
                    assertEquals(24, allocator.used());
                }
                assertEquals(8, allocator.used(), "the later sandbox rolled back on close");
                allocator.reset();
            }
        }
    }

    @Test
    void tokenIdsStayDistinctAcrossBlocksOnLakesAndArenas()
    {
        final int count = (int)TokenIds.BLOCK + 100; // at least one block's end on each
        final Set<Long> lakeIds = new HashSet<>();
        final Set<Long> arenaIds = new HashSet<>();
        try (Lake lake = Lake.of(1024); Arena arena = Arena.builder().build())
        {
            final long firstLake = lake.beginSandbox();
            lake.endSandbox(firstLake);
            final long firstArena = arena.beginTransaction();
            arena.endTransaction(firstArena);
            for (int i = 0; i < count; i++)
            {
                final long s = lake.beginSandbox();
                assertTrue(lakeIds.add(s >>> 16), "sandbox id reused: " + (s >>> 16));
                lake.endSandbox(s);
                final long t = arena.beginTransaction();
                assertTrue(arenaIds.add(t >>> 16), "transaction serial reused: " + (t >>> 16));
                arena.endTransaction(t);
            }
            final long open = lake.beginSandbox();
            final long openTx = arena.beginTransaction();
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(firstLake), "a token long ended");
            assertThrows(IllegalStateException.class, () -> arena.commitTransaction(firstArena));
            assertEquals(1, lake.openSandboxes());
            lake.endSandbox(open);
            arena.endTransaction(openTx);
        }
        lakeIds.retainAll(arenaIds);
        assertEquals(Set.of(), lakeIds, "one process-wide counter: a lake's and an arena's ids never meet");
    }

    @Test
    void aClosedLakeRefusingTokensTakesNoBlock() throws ReflectiveOperationException
    {
        final Lake lake = Lake.of(1024);
        final LakeView view = lake.split(512);
        lake.close();
        final long before = blocksTaken();
        for (int i = 0; i < 10; i++)
        {
            assertThrows(IllegalStateException.class, lake::beginSandbox);
            assertThrows(StaleHandleException.class, view::beginSandbox);
        }
        assertEquals(before, blocksTaken(), "a refused token took a block of the process-wide counter");
    }

    private static long blocksTaken()
    {
        long taken = 0;
        for (int level = 0; level < TokenIds.LEVELS; level++)
        {
            taken += TokenIds.blocksTaken(level);
        }
        return taken;
    }

    private static long storedId(final LakeAllocator allocator, final int depth) throws ReflectiveOperationException
    {
        final Field ids = LakeAllocator.class.getDeclaredField("sandboxIds");
        ids.setAccessible(true);
        return ((long[])ids.get(allocator))[depth];
    }
}
