package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.AllocationTimeoutException;
import dev.lake.pool.ArenaClosedException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.RequestTooLargeException;
import dev.lake.pool.WaitMetrics;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceStats;
import org.junit.jupiter.api.Test;

import java.time.Duration;

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

    /**
     * docs/pool.md, "Misuse added by these features": above the whole arena is {@code RequestTooLargeException}
     * at once (never a wait), a non-positive size an {@code IllegalArgumentException} naming the value, a null
     * timeout a {@code NullPointerException} with nothing queued, a zero or negative timeout on a full arena an
     * {@code AllocationTimeoutException} at once, and any allocation or wait on a closed arena an
     * {@code ArenaClosedException}; on both arenas, every entry point.
     */
    @Test
    void theWaitingMisuseTableHoldsOnBothArenasForEveryEntryPoint() throws Exception
    {
        final FixedArena fixed = FixedArena.builder(1, 64).build();
        final BuddyArena buddy = BuddyArena.builder(1024, 64).build();
        final Buffer fixedHeld = fixed.allocate();
        final Buffer buddyHeld = buddy.allocate(1024);
        checkWaitingMisuse(64, fixed::allocateAsync, fixed::allocate, () -> fixed.metrics().waits());
        checkWaitingMisuse(1024, buddy::allocateAsync, buddy::allocate, () -> buddy.metrics().waits());
        fixedHeld.close();
        buddyHeld.close();
        fixed.close();
        buddy.close();
        assertThrows(ArenaClosedException.class, fixed::allocate);
        assertThrows(ArenaClosedException.class, () -> fixed.allocate(8));
        assertThrows(ArenaClosedException.class, fixed::tryAllocate);
        assertThrows(ArenaClosedException.class, () -> fixed.tryAllocate(8));
        assertThrows(ArenaClosedException.class, fixed::allocateHandle);
        assertThrows(ArenaClosedException.class, fixed::tryAllocateHandle);
        assertThrows(ArenaClosedException.class, fixed::allocateAsync);
        assertThrows(ArenaClosedException.class, () -> fixed.allocate(Duration.ofSeconds(1)));
        assertThrows(ArenaClosedException.class, () -> buddy.allocate(64));
        assertThrows(ArenaClosedException.class, () -> buddy.tryAllocate(64));
        assertThrows(ArenaClosedException.class, () -> buddy.allocateHandle(64));
        assertThrows(ArenaClosedException.class, () -> buddy.tryAllocateHandle(64));
        assertThrows(ArenaClosedException.class, () -> buddy.allocateAsync(64));
        assertThrows(ArenaClosedException.class, () -> buddy.allocate(64, Duration.ofSeconds(1)));
    }

    interface Async
    {
        Object allocate(int size) throws Exception;
    }

    interface Timed
    {
        Object allocate(int size, Duration timeout) throws Exception;
    }

    private static void checkWaitingMisuse(final int whole, final Async async, final Timed timed,
        final java.util.function.Supplier<WaitMetrics> waits)
    {
        assertThrows(RequestTooLargeException.class, () -> async.allocate(whole + 1));
        assertThrows(RequestTooLargeException.class, () -> timed.allocate(whole + 1, Duration.ofDays(1)));
        for (final int bad : new int[] {0, -1, Integer.MIN_VALUE})
        {
            final IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> async.allocate(bad));
            assertTrue(refused.getMessage().contains(String.valueOf(bad)), refused.getMessage());
            assertThrows(IllegalArgumentException.class, () -> timed.allocate(bad, Duration.ofDays(1)));
        }
        assertThrows(NullPointerException.class, () -> timed.allocate(64, null));
        assertEquals(0, waits.get().waiters(), "nothing queued by a refused request");
        for (final Duration now : new Duration[] {Duration.ZERO, Duration.ofNanos(-1), Duration.ofSeconds(-5)})
        {
            assertThrows(AllocationTimeoutException.class, () -> timed.allocate(64, now));
        }
        assertEquals(0, waits.get().waiters());
    }

    /**
     * README, "A taste": the snippet as printed, with what its comments claim asserted (the sandbox's
     * allocation rolled back; freeze is a read-only view of the slot's bytes with no copy; the slot comes back
     * on the last release, not before).
     */
    @Test
    void theReadmeTasteRunsAsPrintedAndDoesWhatItsCommentsSay()
    {
        try (Lake lake = Lake.builder(1 << 20).preTouch(true).build())
        {
            int at = lake.allocate(64, 8);
            lake.buffer().putLong(at, 42L);
            final int before = lake.used();
            try (Sandbox scratch = lake.sandbox()) { lake.allocate(4096); }   // rolled back: not committed
            assertEquals(before, lake.used(), "rolled back: not committed");
            assertEquals(42L, lake.buffer().getLong(at));
        }

        try (FixedArena arena = FixedArena.builder(1024, 4096).build())
        {
            Buffer buffer = arena.allocate();
            final long slotAddress = buffer.mutableBuffer().addressOffset();
            buffer.putLong(7L);
            Bytes bytes = buffer.freeze();           // read-only Agrona DirectBuffer, no copy
            assertFalse(org.agrona.MutableDirectBuffer.class.isInstance(bytes), "read-only");
            assertEquals(slotAddress, bytes.addressOffset(), "no copy: the slot's own bytes");
            Bytes forOtherThread = bytes.retain();   // shared, reference counted
            bytes.release();
            assertEquals(1, arena.liveSlots(), "the retained reference keeps the slot");
            assertEquals(7L, forOtherThread.getLong(0));
            forOtherThread.release();
            assertEquals(0, arena.liveSlots(), "memory returns on the last release");
        }
    }
}
