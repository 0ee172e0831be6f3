package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seventeenth review of the growable arena (Arena, Transaction, ArenaVec, ArenaView).
 *
 * <p>Findings (fail on 7bf4693, JDK 17 and JDK 25):
 * <ul>
 * <li>{@link #aSmallRequestIsNotRefusedWhileTheReserveLimitHasRoomForIt} and
 * {@link #aSmallAllocateDoesNotThrowOutOfMemoryWhileHalfTheReserveLimitIsFree}: a request the reserve limit has room
 * for is refused (OutOfMemoryError / NULL) because the doubling's next standard block would cross the limit; with
 * the default first block and a 900,000-byte limit only 458,752 bytes are ever usable.</li>
 * <li>{@link #anEmptyUtf8CopyWhoseSecondLengthCallResetsTheArenaIsNotReturned} and
 * {@link #anEmptyUtf8CopyWhoseSecondLengthCallClosesTheArenaIsNotReturned}: copyOfUtf8 calls the value's
 * {@code length()} again after the allocation and checks nothing after it; an empty value whose length() resets or
 * closes the arena gets a reference to memory given back (or of a closed arena) returned normally.</li>
 * </ul>
 * Pinned, passing: a fuzz of vectors, views, transactions, checkpoints, budgets and cleanups that re-enter the arena,
 * against the oracle "a vector or view that does not report itself stale holds exactly what was pushed into it"
 * ({@code -Dfuzz.seeds=N}, 300 by default; 3,000 passed).
 */
class SeventeenthReviewArenaTest
{
    // ------------------------------------------------------------------------------------------------------------
    // Exploratory fuzz: vectors and views in transactions, checkpoints, budgets, cleanups. Oracle: a vector or view
    // that does not report itself stale holds exactly what was pushed into it; once stale it stays stale.
    // ------------------------------------------------------------------------------------------------------------

    static final class V
    {
        final int id;
        ArenaVec.OfLong vec;
        ArenaView.OfLong view;
        final List<Long> model = new ArrayList<>();
        boolean dead;

        V(final int id)
        {
            this.id = id;
        }
    }

    static final class Fuzz
    {
        final Random rnd;
        final Arena arena;
        final List<V> vs = new ArrayList<>();
        final List<Checkpoint> cps = new ArrayList<>();
        final List<Transaction> txs = new ArrayList<>();
        int nextId;
        int cleanupDepth;
        final StringBuilder log = new StringBuilder();

        Fuzz(final long seed)
        {
            rnd = new Random(seed);
            arena = Arena.builder().initialBlockSize(256).maxBlockSize(4096).maxReservedBytes(1 << 20).build();
        }

        void verifyAll()
        {
            for (final V v : vs)
            {
                verify(v);
            }
        }

        void verify(final V v)
        {
            if (v.dead)
            {
                // must stay dead
                try
                {
                    if (v.view != null)
                    {
                        v.view.toArray();
                    }
                    else
                    {
                        v.vec.toArray();
                    }
                    if (!(v.view != null && v.model.isEmpty()) && !(v.view == null && v.vec.capacity() == 0))
                    {
                        fail("vector " + v.id + " came back to life\n" + log);
                    }
                }
                catch (final StaleHandleException expected)
                {
                    // fine
                }
                return;
            }
            final long[] got;
            try
            {
                got = v.view != null ? v.view.toArray() : v.vec.toArray();
            }
            catch (final StaleHandleException ex)
            {
                v.dead = true;
                return;
            }
            final long[] want = v.model.stream().mapToLong(Long::longValue).toArray();
            if (!java.util.Arrays.equals(want, got))
            {
                fail("vector " + v.id + " corrupted: want " + java.util.Arrays.toString(want) + " got " +
                    java.util.Arrays.toString(got) + "\n" + log);
            }
        }

        void step()
        {
            final int op = rnd.nextInt(cleanupDepth > 0 ? 6 : 16);
            log.append(op).append(' ');
            try
            {
                switch (op)
                {
                    case 0, 1, 2 -> push();
                    case 3 -> newVec();
                    case 4 -> finish();
                    case 5 -> raw();
                    case 6 -> cps.add(arena.checkpoint());
                    case 7 -> rewind();
                    case 8 -> txs.add(arena.transaction());
                    case 9 -> endTx(true);
                    case 10 -> endTx(false);
                    case 11 -> setLimit();
                    case 12 -> defer();
                    case 13 -> { if (arena.transactionDepth() == 0 && rnd.nextInt(4) == 0) arena.reset(); }
                    case 14 -> reserve();
                    case 15 -> txCheckpoint();
                    default -> { }
                }
            }
            catch (final BudgetExceededException | IllegalStateException | OutOfMemoryError ex)
            {
                log.append('!');
            }
            verifyAll();
        }

        V pick()
        {
            return vs.isEmpty() ? null : vs.get(rnd.nextInt(vs.size()));
        }

        void push()
        {
            final V v = pick();
            if (v == null || v.dead || v.view != null)
            {
                return;
            }
            final int n = 1 + rnd.nextInt(20);
            for (int i = 0; i < n; i++)
            {
                final long value = ((long)v.id << 32) | v.model.size();
                try
                {
                    v.vec.push(value);
                }
                catch (final StaleHandleException ex)
                {
                    v.dead = true;
                    return;
                }
                v.model.add(value);
            }
        }

        void reserve()
        {
            final V v = pick();
            if (v == null || v.dead || v.view != null)
            {
                return;
            }
            try
            {
                v.vec.tryReserve(rnd.nextInt(100));
            }
            catch (final StaleHandleException ex)
            {
                v.dead = true;
            }
        }

        void newVec()
        {
            final V v = new V(nextId++);
            v.vec = rnd.nextBoolean() ? ArenaVec.ofLongs(arena) : ArenaVec.ofLongs(arena, rnd.nextInt(30));
            vs.add(v);
        }

        void finish()
        {
            final V v = pick();
            if (v == null || v.dead || v.view != null)
            {
                return;
            }
            try
            {
                v.view = v.vec.finish();
            }
            catch (final StaleHandleException ex)
            {
                v.dead = true;
            }
        }

        void raw()
        {
            final int align = 1 << rnd.nextInt(13);
            arena.tryAllocate(1 + rnd.nextInt(rnd.nextBoolean() ? 64 : 3000), Math.min(align, Arena.MAX_ALIGNMENT));
        }

        void rewind()
        {
            if (cps.isEmpty())
            {
                return;
            }
            final Checkpoint cp = cps.get(rnd.nextInt(cps.size()));
            try
            {
                arena.rewind(cp);
            }
            catch (final StaleHandleException ex)
            {
                log.append('s');
            }
        }

        void txCheckpoint()
        {
            if (txs.isEmpty())
            {
                return;
            }
            final Transaction tx = txs.get(rnd.nextInt(txs.size()));
            try
            {
                cps.add(tx.checkpoint());
            }
            catch (final StaleHandleException ex)
            {
                log.append('s');
            }
        }

        void endTx(final boolean commit)
        {
            if (txs.isEmpty())
            {
                return;
            }
            final Transaction tx = txs.get(txs.size() - 1 - (rnd.nextInt(4) == 0 ? rnd.nextInt(txs.size()) : 0));
            try
            {
                if (commit)
                {
                    tx.commit();
                }
                else
                {
                    tx.close();
                }
            }
            catch (final StaleHandleException ex)
            {
                log.append('s');
            }
            txs.removeIf(t -> !t.isOpen());
        }

        void setLimit()
        {
            if (txs.isEmpty())
            {
                return;
            }
            final Transaction tx = txs.get(rnd.nextInt(txs.size()));
            try
            {
                tx.setLimit(rnd.nextInt(4) == 0 ? Long.MAX_VALUE : rnd.nextInt(5000));
            }
            catch (final StaleHandleException ex)
            {
                log.append('s');
            }
        }

        void defer()
        {
            final long seed = rnd.nextLong();
            arena.defer(() ->
            {
                cleanupDepth++;
                try
                {
                    final int n = new Random(seed).nextInt(4);
                    for (int i = 0; i < n; i++)
                    {
                        step();
                    }
                }
                finally
                {
                    cleanupDepth--;
                }
            });
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding: the reserve limit refuses small requests while most of it is unused
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Builder.maxReservedBytes: "most bytes the arena may reserve in blocks; a request needing more fails with
     * OutOfMemoryError"; arena.md: "maxReservedBytes caps the total: beyond it allocate throws OutOfMemoryError". With
     * the default 64 KiB first block and a 900,000-byte cap the arena reserves 64 + 128 + 256 KiB = 458,752 bytes, then
     * refuses every further request, even of 8 bytes, because the next standard block (512 KiB) would cross the cap:
     * 441,248 bytes of the cap (49%) can never be used, and an 8-byte allocate throws OutOfMemoryError.
     */
    @Test
    void aSmallRequestIsNotRefusedWhileTheReserveLimitHasRoomForIt()
    {
        final long cap = 900_000;
        try (Arena arena = Arena.builder().maxReservedBytes(cap).build())
        {
            long allocated = 0;
            while (arena.tryAllocate(1024, 8) != Arena.NULL)
            {
                allocated += 1024;
            }
            final ArenaStats stats = arena.stats();
            final long left = cap - stats.bytesReserved();
            assertTrue(left < 1024, "a 1,024-byte request was refused with " + left + " bytes of the " + cap +
                "-byte reserve limit left (" + stats + ", " + allocated + " bytes allocated)");
        }
    }

    @Test
    void aSmallAllocateDoesNotThrowOutOfMemoryWhileHalfTheReserveLimitIsFree()
    {
        try (Arena arena = Arena.builder().maxReservedBytes(900_000).build())
        {
            arena.allocate(60_000, 8);           // block 0: 64 KiB
            arena.allocate(120_000, 8);          // block 1: 128 KiB
            arena.allocate(250_000, 8);          // block 2: 256 KiB; reserved 458,752
            assertEquals(458_752, arena.stats().bytesReserved());
            try
            {
                arena.allocate(20_000, 8);       // does not fit block 2's tail: a block of 20,000 would do (478,752)
            }
            catch (final OutOfMemoryError ex)
            {
                fail("a 20,000-byte request with 441,248 bytes of the reserve limit free: " + ex.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding: copyOfUtf8's second length() call is user code that nothing checks after
    // ------------------------------------------------------------------------------------------------------------

    /** An empty sequence whose n-th length() call runs an action on the arena. */
    private static CharSequence emptyRunningOnLengthCall(final int call, final Runnable action)
    {
        return new CharSequence()
        {
            private int calls;

            @Override
            public int length()
            {
                if (++calls == call)
                {
                    action.run();
                }
                return 0;
            }

            @Override
            public char charAt(final int index)
            {
                throw new IndexOutOfBoundsException(index);
            }

            @Override
            public CharSequence subSequence(final int start, final int end)
            {
                return this;
            }

            @Override
            public String toString()
            {
                return "";
            }
        };
    }

    /**
     * copyOfUtf8 reads {@code value.length()} again in its encoding pass (Arena.encodeUtf8), after the allocation and
     * with no clock check after it: for an empty string the loop never runs, so a {@code length()} that reset the
     * arena there is never seen and the call returns a reference to memory the reset gave back. The next allocation
     * takes it, and the "string" then reads another allocation's bytes as its length prefix. charAt is checked after
     * every call (the Javadoc's ConcurrentModificationException); length() is the one read that is not.
     */
    @Test
    void anEmptyUtf8CopyWhoseSecondLengthCallResetsTheArenaIsNotReturned()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(1000, 8);
            final CharSequence value = emptyRunningOnLengthCall(2, arena::reset);
            long ref = Arena.NULL;
            try
            {
                ref = arena.copyOfUtf8(value);
            }
            catch (final java.util.ConcurrentModificationException expected)
            {
                return;
            }
            // what a caller holding the returned reference sees once the arena hands the memory out again
            final long other = arena.allocate(2000, 8);
            arena.buffer(other).setMemory(Arena.offset(other), 2000, (byte)0x7F);
            fail("copyOfUtf8 returned reference 0x" + Long.toHexString(ref) + " though the value's length() reset the " +
                "arena during the copy: its length prefix now reads " +
                arena.buffer(ref).getInt(Arena.offset(ref)) + " (another allocation's bytes)");
        }
    }

    @Test
    void anEmptyUtf8CopyWhoseSecondLengthCallClosesTheArenaIsNotReturned()
    {
        final Arena arena = new Arena();
        try
        {
            final CharSequence value = emptyRunningOnLengthCall(2, arena::close);
            // the Javadoc: IllegalStateException if the arena is closed, ConcurrentModificationException if the value
            // closed it during the copy; it returned a reference into a closed arena instead
            assertThrows(RuntimeException.class, () -> arena.copyOfUtf8(value),
                "copyOfUtf8 returned normally after the value's length() closed the arena");
        }
        finally
        {
            arena.close();
        }
    }

    @Test
    void fuzzVectorsViewsTransactionsCheckpointsBudgetsAndCleanups()
    {
        for (long seed = 0; seed < Long.getLong("fuzz.seeds", 300); seed++)
        {
            final Fuzz f = new Fuzz(seed);
            try
            {
                for (int i = 0; i < 300; i++)
                {
                    f.step();
                }
            }
            catch (final AssertionError ex)
            {
                throw new AssertionError("seed " + seed + ": " + ex.getMessage(), ex);
            }
            finally
            {
                try
                {
                    f.arena.close();
                }
                catch (final RuntimeException ignored)
                {
                    // cleanup failures
                }
            }
        }
    }
}
