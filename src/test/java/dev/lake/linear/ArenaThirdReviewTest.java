package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Regression tests for what the third hostile review of {@link Arena}, {@link Transaction}, {@link ArenaVec} and
 * {@link ArenaView} found. Each failed before its fix.
 */
class ArenaThirdReviewTest
{
    /**
     * finish() stops giving back a vector's unused capacity at the newest checkpoint inside it (second review), but
     * "newest" was the last one taken even when a rewind had made it stale since: after a rewind to an older
     * checkpoint lying in the tail, the stale newer one (above the vector) hid it, the give-back cut below it and the
     * checkpoint the caller had just rewound to went stale (rewinding to it again threw StaleHandleException, and the
     * cleanup registered after it ran only at the next reset or close). Every discarding rewind now lowers the mark to
     * its target.
     */
    @Test
    void finishAfterARewindToAnOlderCheckpointKeepsThatCheckpointValid()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(7L);
            final Checkpoint inTail = arena.checkpoint(); // at the vector's end: inside its unused capacity
            final long other = arena.allocate(64, 8);
            assertNotEquals(Arena.NULL, other);
            final Checkpoint newer = arena.checkpoint();   // the newest checkpoint, above the vector
            arena.rewind(inTail);                          // newer is stale now; inTail is not
            assertFalse(newer.isValid());
            assertTrue(inTail.isValid());
            final int[] ran = {0};
            arena.defer(() -> ran[0]++);
            final ArenaView.OfLong view = vec.finish();
            assertTrue(inTail.isValid(), "finish() made a checkpoint stale that nobody rewound past");
            arena.rewind(inTail);
            assertEquals(1, ran[0]);
            assertEquals(7L, view.get(0));
        }
    }

    /**
     * copyOfAscii read length() once and allocated 4 + length bytes: a sequence reporting a negative length (-1 to -3)
     * got an allocation of 1 to 3 bytes into which the 4-byte length prefix was written, past its end (into the next
     * allocation's bytes, or past the block: with Agrona's checks on an IndexOutOfBoundsException that left the bytes
     * allocated, with them off a write outside the block). Refused now, nothing allocated.
     */
    @Test
    void copyOfAsciiOfASequenceWithANegativeLengthIsRefusedAndAllocatesNothing()
    {
        // 6 bytes: the copy lands at offset 4 (4-byte aligned), so its 2-byte allocation ends at the block's end
        try (Arena arena = Arena.withCapacity(6))
        {
            arena.allocate(1, 1);
            final CharSequence broken = new CharSequence()
            {
                @Override
                public int length()
                {
                    return -2;
                }

                @Override
                public char charAt(final int index)
                {
                    return 'a';
                }

                @Override
                public CharSequence subSequence(final int start, final int end)
                {
                    return this;
                }
            };
            final long before = arena.bytesAllocated();
            assertThrows(IllegalArgumentException.class, () -> arena.copyOfAscii(broken));
            assertEquals(before, arena.bytesAllocated(), "nothing allocated by the refused copy");
        }
    }

    /**
     * Transaction.checkpoint() hands out a checkpoint at the transaction's start, which outlives the transaction, but
     * the arena did not count it among the checkpoints a vector's give-back must stop at: a transaction opened at a
     * vector's end (inside its unused capacity) and committed, then finish() cut below its checkpoint, which went
     * stale though nobody rewound past it (rewinding to it threw StaleHandleException).
     */
    @Test
    void finishKeepsATransactionsCheckpointInTheVectorsTailValid()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(7L);
            final Checkpoint start;
            try (Transaction tx = arena.transaction())
            {
                start = tx.checkpoint();
                tx.commit();
            }
            final ArenaView.OfLong view = vec.finish();
            assertTrue(start.isValid(), "finish() made the transaction's checkpoint stale");
            arena.rewind(start);
            assertEquals(7L, view.get(0));
        }
    }

    /** The same after a reset in the first block, which leaves the arena's checkpoint mark above the position. */
    @Test
    void finishKeepsATransactionsCheckpointValidAfterAFirstBlockReset()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(4096, 8);
            arena.checkpoint(); // the mark, at 4096
            arena.reset();      // the first-block reset leaves the mark where it was
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(7L);
            final Checkpoint start;
            try (Transaction tx = arena.transaction())
            {
                start = tx.checkpoint();
                tx.commit();
            }
            vec.finish();
            assertTrue(start.isValid(), "finish() made the transaction's checkpoint stale");
        }
    }

    /**
     * A randomized oracle for the two give-back fixes above: random allocations, checkpoints (the arena's and
     * transactions'), rewinds, resets, transactions committed or rolled back, vectors pushed and finished (also from
     * cleanup actions run by a rewind), over small blocks. A checkpoint is valid exactly when no rewind, reset or
     * rollback went below it (a finish() never makes one stale), and every valid view reads what was pushed.
     */
    @Test
    void checkpointsStayValidUnlessRewoundPastWhateverVectorsFinish()
    {
        for (long seed = 0; seed < 3000; seed++)
        {
            fuzz(seed);
        }
    }

    private static final class Cp
    {
        final Checkpoint cp;
        boolean valid = true;
        Cp(final Checkpoint cp) { this.cp = cp; }
    }

    private static void fuzz(final long seed)
    {
        final Random r = new Random(seed);
        final StringBuilder log = new StringBuilder();
        try (Arena arena = Arena.builder().initialBlockSize(256).maxBlockSize(1024).build())
        {
            final List<Cp> cps = new ArrayList<>();
            final List<Transaction> txs = new ArrayList<>();
            final List<Long> txStart = new ArrayList<>();
            ArenaVec.OfLong vec = null;
            final List<ArenaView.OfLong> views = new ArrayList<>();
            final List<long[]> viewData = new ArrayList<>();
            for (int step = 0; step < 40; step++)
            {
                final int op = r.nextInt(13);
                log.append(step).append(':').append(op).append(' ');
                switch (op)
                {
                    case 0: arena.allocate(1 + r.nextInt(200), 1 << r.nextInt(4)); break;
                    case 1: case 2: cps.add(new Cp(arena.checkpoint())); break;
                    case 3:
                    {
                        if (cps.isEmpty()) break;
                        final Cp c = cps.get(r.nextInt(cps.size()));
                        if (!c.valid) { assertThrows(StaleHandleException.class, () -> arena.rewind(c.cp), log::toString); break; }
                        final long p = c.cp.position;
                        try
                        {
                            arena.rewind(c.cp);
                        }
                        catch (final StaleHandleException ex)
                        {
                            fail("seed " + seed + " valid cp stale: " + log);
                        }
                        catch (final IllegalStateException ex)
                        {
                            break;
                        }
                        for (final Cp o : cps) if (o.cp.position > p) o.valid = false;
                        break;
                    }
                    case 4:
                        if (!txs.isEmpty()) break;
                        arena.reset();
                        for (final Cp o : cps) if (o.cp.position > 0) o.valid = false;
                        break;
                    case 5:
                        txStart.add(arena.position());
                        txs.add(arena.transaction());
                        break;
                    case 6:
                        if (txs.isEmpty()) break;
                        cps.add(new Cp(txs.get(txs.size() - 1).checkpoint()));
                        break;
                    case 7:
                    {
                        if (txs.isEmpty()) break;
                        final Transaction t = txs.remove(txs.size() - 1);
                        final long p = txStart.remove(txStart.size() - 1);
                        if (r.nextBoolean()) { t.commit(); }
                        else
                        {
                            t.rollback();
                            for (final Cp o : cps) if (o.cp.position > p) o.valid = false;
                        }
                        break;
                    }
                    case 8:
                    {
                        vec = ArenaVec.ofLongs(arena, r.nextInt(20));
                        final int n = r.nextInt(30);
                        for (int i = 0; i < n; i++) vec.push(i * 31L + seed);
                        break;
                    }
                    case 9:
                    {
                        if (vec == null) break;
                        try
                        {
                            final long[] data = vec.toArray();
                            views.add(vec.finish());
                            viewData.add(data);
                        }
                        catch (final StaleHandleException ex) { }
                        vec = null;
                        break;
                    }
                    case 11:
                    {
                        final ArenaVec.OfLong v = vec;
                        final boolean alloc = r.nextBoolean();
                        arena.defer(() -> {
                            if (alloc) arena.allocate(24, 8);
                            if (v != null && !v.isFinished()) { try { v.push(1); v.finish(); } catch (final StaleHandleException ex) { } }
                        });
                        break;
                    }
                    default:
                        if (vec != null) { try { vec.push(5); } catch (final StaleHandleException ex) { vec = null; } }
                }
                for (final Cp c : cps)
                {
                    assertEquals(c.valid, c.cp.isValid(), () -> "seed " + seed + " " + c.cp + " " + log);
                }
                for (int i = 0; i < views.size(); i++)
                {
                    if (views.get(i).isValid())
                    {
                        assertArrayEquals(viewData.get(i), views.get(i).toArray(), "seed " + seed + " " + log);
                    }
                }
            }
        }
    }
}
