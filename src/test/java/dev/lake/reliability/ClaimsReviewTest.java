package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceStats;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fifth review, README and docs: claims of the feature table and of {@code docs/*.md} that no named test asserted
 * as stated. Each test asserts one claim exactly as the README row or the doc words it.
 */
class ClaimsReviewTest
{
    /**
     * README (fastarena): "zero and foreign tokens ignored by {@code endTransaction}, refused by
     * {@code commitTransaction}"; docs/arena.md: "{@code endTransaction(0)} does nothing and
     * {@code commitTransaction(0)} throws {@code IllegalStateException}". The named regression tests accept an
     * exception from {@code endTransaction} and never call {@code commitTransaction} with such a token.
     */
    @Test
    void zeroAndForeignTransactionTokensAreIgnoredByEndAndRefusedByCommit()
    {
        try (Arena mine = new Arena(); Arena other = new Arena())
        {
            final long foreign = other.beginTransaction();
            final long outer = mine.beginTransaction();
            final long live = mine.allocate(64, 8);
            mine.buffer(live).putLong(Arena.offset(live), 42L);
            final long inner = mine.beginTransaction();
            mine.allocate(32, 8);
            final long allocated = mine.bytesAllocated();

            for (final long token : new long[] {0L, foreign})
            {
                assertDoesNotThrow(() -> mine.endTransaction(token), "endTransaction ignores token " + token);
                assertEquals(2, mine.transactionDepth(), "an ignored token ended nothing");
                assertEquals(allocated, mine.bytesAllocated(), "an ignored token rolled nothing back");
            }
            assertThrowsExactly(IllegalStateException.class, () -> mine.commitTransaction(0L), "zero token");
            assertThrows(StaleHandleException.class, () -> mine.commitTransaction(foreign), "foreign token");
            assertEquals(2, mine.transactionDepth(), "a refused commit changed nothing");
            assertEquals(allocated, mine.bytesAllocated());

            mine.commitTransaction(inner);
            mine.commitTransaction(outer);
            assertEquals(0, mine.transactionDepth());
            assertEquals(42L, mine.buffer(live).getLong(Arena.offset(live)));

            // outside any transaction: still ignored by end, refused by commit
            mine.endTransaction(0L);
            mine.endTransaction(foreign);
            assertThrowsExactly(IllegalStateException.class, () -> mine.commitTransaction(0L));
            assertThrows(StaleHandleException.class, () -> mine.commitTransaction(foreign));
            assertEquals(allocated, mine.bytesAllocated());

            assertEquals(1, other.transactionDepth(), "the other arena's transaction is untouched");
            other.endTransaction(foreign);
            assertEquals(0, other.transactionDepth());
        }
    }

    /**
     * README (lake): "a token of another lake or view never matches"; docs/lake.md: for such a token
     * "{@code commitSandbox} throws {@code StaleHandleException}, {@code endSandbox} does nothing". The named
     * regression test covers two lakes only, not a view and its parent nor two sibling views.
     */
    @Test
    void aSandboxTokenOfAParentOrSiblingViewNeverMatches()
    {
        try (Lake lake = Lake.of(8192))
        {
            final LakeView left = lake.split(2048);
            final LakeView right = lake.split(2048);
            final long lakeToken = lake.beginSandbox();
            final long leftToken = left.beginSandbox();
            final long rightToken = right.beginSandbox();
            final Droplet inLake = lake.droplet(64);
            final Droplet inLeft = left.droplet(64);
            final Droplet inRight = right.droplet(64);
            final int lakeUsed = lake.used();
            final int leftUsed = left.used();
            final int rightUsed = right.used();

            // every token is the first of its allocator at depth 0: only its id tells them apart
            final long[][] wrong = {
                {leftToken, rightToken}, // on the lake
                {lakeToken, rightToken}, // on the left view
                {lakeToken, leftToken}}; // on the right view
            final dev.lake.linear.LakeAllocator[] allocators = {lake, left, right};
            for (int a = 0; a < allocators.length; a++)
            {
                final dev.lake.linear.LakeAllocator allocator = allocators[a];
                for (final long token : wrong[a])
                {
                    assertThrows(StaleHandleException.class, () -> allocator.commitSandbox(token),
                        allocator + " committed a token it never issued");
                    allocator.endSandbox(token);
                    assertEquals(1, allocator.openSandboxes(), allocator + " ended its sandbox on a foreign token");
                }
            }
            assertEquals(lakeUsed, lake.used());
            assertEquals(leftUsed, left.used());
            assertEquals(rightUsed, right.used());
            assertTrue(inLake.isValid() && inLeft.isValid() && inRight.isValid(), "nothing was rolled back");

            right.endSandbox(rightToken);
            left.commitSandbox(leftToken);
            assertFalse(inRight.isValid());
            assertTrue(inLeft.isValid());
            lake.endSandbox(lakeToken);
            assertFalse(inLake.isValid(), "the lake's own token still rolls back");
            assertEquals(4096, lake.used(), "to where it began: after the two views");
            assertTrue(inLeft.isValid(), "the views began before it and stay");
        }
    }

    /**
     * docs/lake.md: "Commit twice or after close: {@code IllegalStateException}" (a sandbox object that ended
     * normally, not one a rewind invalidated).
     */
    @Test
    void aSandboxCommittedTwiceOrAfterCloseThrowsIllegalState()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Sandbox committed = lake.sandbox();
            lake.allocate(16);
            committed.commit();
            assertThrowsExactly(IllegalStateException.class, committed::commit, "commit twice");
            assertThrowsExactly(IllegalStateException.class, committed::rollback, "rollback after commit");
            committed.close();
            assertEquals(16, lake.used(), "the refused calls undid nothing");

            final Sandbox closed = lake.sandbox();
            lake.allocate(32);
            closed.close();
            assertEquals(16, lake.used());
            assertThrowsExactly(IllegalStateException.class, closed::commit, "commit after close");
            assertEquals(0, lake.openSandboxes());
            assertEquals(16, lake.used());
        }
    }

    /**
     * README (arena-arc): "Zombie slices / tail overhead, documented and counted"; docs/slices.md: a released
     * slice in a chunk other slices keep alive is not reclaimed alone, {@code liveSliceBytes} counts only slices
     * with a holder, and its bytes come back with the chunk. The named test checks the abandoned tail only.
     */
    @Test
    void aZombieSliceLeavesLiveBytesAndKeepsItsChunkUntilTheLastSliceGoes()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(100).build())
        {
            final SharedSlice first = alloc.allocateLongs(30, i -> i);
            final SharedSlice zombie = alloc.allocateLongs(30, i -> -i);
            final SharedSlice last = alloc.allocateLongs(30, i -> i);
            final SliceStats before = alloc.stats();
            assertEquals(1, before.liveChunks());
            assertEquals(3 * 30 * 8, before.liveSliceBytes());

            zombie.release();
            final SliceStats withZombie = alloc.stats();
            assertEquals(2 * 30 * 8, withZombie.liveSliceBytes(), "a released slice is no longer live");
            assertEquals(before.reservedBytes(), withZombie.reservedBytes(), "its bytes stay reserved: a zombie");
            assertEquals(1, withZombie.liveChunks());

            // the zombie's bytes are not handed out again while slices around it live
            final SharedSlice next = alloc.allocateLongs(5, i -> 7);
            assertTrue(next.buffer().addressOffset() > last.buffer().addressOffset(), "no reuse of the zombie");
            assertEquals(29, last.getLong(29));
            first.release();
            last.release();
            next.release();
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    /**
     * docs/lake.md: "A made-up snapshot is rejected (...) or, at worst, rewinds to a position below the current
     * one, which is always memory-safe". The doc named only {@code IllegalArgumentException}; a made-up snapshot
     * whose validation data names no live registration is refused as stale ({@code StaleHandleException}), and
     * the doc now says so. Every refusal changes nothing.
     */
    @Test
    void aMadeUpSnapshotIsRefusedOrRewindsOnlyBelowThePosition()
    {
        try (Lake lake = Lake.of(4096); Lake other = Lake.of(4096))
        {
            lake.allocate(64);
            final LakeSnapshot genuine = lake.snapshot();
            lake.allocate(64);
            final int position = lake.position();
            final LakeSnapshot[] refusedAsBad = {
                new LakeSnapshot(other, genuine.position(), genuine.epochIndex(), genuine.epochId()),
                new LakeSnapshot(lake, -8, genuine.epochIndex(), genuine.epochId()),
                new LakeSnapshot(lake, 4097, genuine.epochIndex(), genuine.epochId()),
                new LakeSnapshot(lake, genuine.position(), -1, genuine.epochId()),
                new LakeSnapshot(lake, position + 8, genuine.epochIndex(), genuine.epochId())};
            for (final LakeSnapshot forged : refusedAsBad)
            {
                assertThrowsExactly(IllegalArgumentException.class, () -> lake.rewind(forged), forged.toString());
                assertEquals(position, lake.position(), "a refused snapshot changed nothing");
            }
            final LakeSnapshot[] refusedAsStale = {
                new LakeSnapshot(lake, genuine.position(), genuine.epochIndex(), genuine.epochId() + 12345),
                new LakeSnapshot(lake, genuine.position(), Integer.MAX_VALUE, genuine.epochId())};
            for (final LakeSnapshot forged : refusedAsStale)
            {
                assertThrowsExactly(StaleHandleException.class, () -> lake.rewind(forged), forged.toString());
                assertEquals(position, lake.position(), "a refused snapshot changed nothing");
            }
            // at worst: genuine validation data with a lower made-up position rewinds below the position
            lake.rewind(new LakeSnapshot(lake, 8, genuine.epochIndex(), genuine.epochId()));
            assertEquals(8, lake.position(), "a forged position may only take the lake down, never up");
            assertThrows(StaleHandleException.class, () -> lake.rewind(genuine), "the genuine one is below-stale");
        }
    }
}
