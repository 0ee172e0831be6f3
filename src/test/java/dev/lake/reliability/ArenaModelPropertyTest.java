package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.Checkpoint;
import dev.lake.memory.StaleHandleException;
import dev.lake.testing.ModelCheck;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.lake.testing.ModelCheck.between;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Model-based tests of {@link Arena}: random sequences of allocations (arena and transaction, plain, try and zeroed,
 * alignments up to 256), checkpoints (own, a transaction's, another arena's), rewinds, resets, transactions and
 * savepoints (objects and tokens, ended in any order), budgets, cleanup actions and close, checked step by step
 * against {@link ArenaWorld}; and random {@link ArenaVec} operations against a {@code List<Long>}, interleaved with
 * other allocations so that the vector both grows in place and moves. Failing sequences are shrunk and printed.
 *
 * <p>Broader than {@code ArenaCheckpointTest#stalenessIsExactAgainstABruteForceOracle} (allocate, checkpoint,
 * rewind, reset only): adds transactions, budgets, cleanups, exact references, block growth, stats and byte
 * integrity. Sequences per run: {@link ModelTries}.
 */
class ArenaModelPropertyTest
{
    @Test
    void everyOperationSequenceMatchesTheModel()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int tries = ModelTries.tries();
        final long steps = ModelCheck.run("Arena", tries, 60, ArenaWorld::open, menu());
        ModelTries.report("ArenaModelPropertyTest", tries, steps);
        baseline.assertBack("every block is freed by close");
    }

    private static ModelCheck.Menu<ArenaWorld> menu()
    {
        return new ModelCheck.Menu<ArenaWorld>()
            .add(6, r ->
            {
                final int via = between(r, -3, 15), sz = size(r), a = 1 << between(r, 0, 8), f = between(r, 0, 2);
                return step((f == 1 ? "tryAllocate(" : f == 2 ? "allocateZeroed(" : "allocate(") + sz + ", " + a + ")" +
                    (via < 0 ? "" : " in transaction " + via), w -> w.allocate(via, sz, a, f));
            })
            .add(2, r -> step("checkpoint()", ArenaWorld::checkpoint))
            .add(2, r ->
            {
                final int c = between(r, -2, 15);
                return step(c == -1 ? "rewind(foreign checkpoint)" : c == -2 ? "rewind(innermost transaction's checkpoint)" :
                    "rewind(checkpoint " + c + ")", w -> w.rewind(c));
            })
            .add(1, r -> step("reset()", ArenaWorld::reset))
            .add(3, r ->
            {
                final int from = between(r, -1, 15);
                final boolean token = r.nextBoolean();
                return step(token ? "beginTransaction()" : from < 0 ? "transaction()" :
                    "savepoint() of transaction " + from, w -> w.begin(from, token));
            })
            .add(3, r ->
            {
                final int t = between(r, 0, 15), a = between(r, 0, 2);
                return step((a == 0 ? "commit" : a == 1 ? "rollback/end" : "close") + " transaction " + t, w -> w.end(t, a));
            })
            .add(1, r ->
            {
                final int t = between(r, 0, 15);
                final long l = between(r, -2, 2000);
                return step("setLimit(" + l + ") on transaction " + t, w -> w.setLimit(t, l));
            })
            .add(1, r -> step("defer(cleanup)", ArenaWorld::defer))
            .add(1, r -> between(r, 0, 40) == 0 ? step("close()", ArenaWorld::closeArena) : step("verify", w -> { }));
    }

    /** Mostly small requests, one in nine larger than a first block. */
    private static int size(final SplittableRandom r)
    {
        return r.nextInt(9) < 8 ? between(r, 1, 120) : between(r, 121, 1500);
    }

    private static ModelCheck.Step<ArenaWorld> step(final String description, final ModelCheck.Body<ArenaWorld> body)
    {
        return ModelCheck.step(description, body, ArenaWorld::verify);
    }

    /**
     * ArenaVec against a list: push, pop, set, truncate, clear, reserve and addAll, interleaved with other
     * allocations (the vector then moves instead of growing in place); finish hands out a view with the same
     * elements; a rewind to a checkpoint taken before the vector makes both stale.
     */
    @Test
    void arenaVecBehavesLikeAList()
    {
        final SplittableRandom random = new SplittableRandom(Long.getLong("lake.model.seed", System.nanoTime()));
        for (int t = 0, tries = ModelTries.tries(); t < tries; t++)
        {
            final int length = random.nextInt(81);
            final List<Integer> ops = new ArrayList<>(length);
            for (int i = 0; i < length; i++)
            {
                ops.add(random.nextInt(10));
            }
            final long seed = random.nextLong();
            try
            {
                arenaVecSequence(ops, seed);
            }
            catch (final AssertionError | RuntimeException ex)
            {
                throw new AssertionError("ArenaVec sequence failed: ops=" + ops + " seed=" + seed, ex);
            }
        }
    }

    private static void arenaVecSequence(final List<Integer> ops, final long seed)
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        try (Arena arena = Arena.builder().initialBlockSize(128).maxBlockSize(512).build())
        {
            arena.allocate(8, 8);
            final Checkpoint before = arena.checkpoint();
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            final List<Long> model = new ArrayList<>();
            long value = seed;
            for (final int op : ops)
            {
                value = value * 6364136223846793005L + 1442695040888963407L;
                switch (op)
                {
                    case 0, 1, 2 ->
                    {
                        vec.push(value);
                        model.add(value);
                    }
                    case 3 ->
                    {
                        if (model.isEmpty())
                        {
                            assertThrows(java.util.NoSuchElementException.class, vec::pop);
                        }
                        else
                        {
                            assertEquals(model.remove(model.size() - 1), vec.pop());
                        }
                    }
                    case 4 ->
                    {
                        final int i = (int)Math.floorMod(value, model.size() + 1L);
                        if (i == model.size())
                        {
                            assertThrows(IndexOutOfBoundsException.class, () -> vec.set(i, 1L));
                        }
                        else
                        {
                            vec.set(i, value);
                            model.set(i, value);
                        }
                    }
                    case 5 ->
                    {
                        final int n = (int)Math.floorMod(value, model.size() + 2L);
                        if (n > model.size())
                        {
                            assertThrows(IndexOutOfBoundsException.class, () -> vec.truncate(n));
                        }
                        else
                        {
                            vec.truncate(n);
                            model.subList(n, model.size()).clear();
                        }
                    }
                    case 6 -> arena.allocate(1 + (int)Math.floorMod(value, 100L), 8); // the vector is no longer last
                    case 7 ->
                    {
                        final int n = (int)Math.floorMod(value, 20L);
                        vec.reserve(n);
                        assertTrue(vec.capacity() >= model.size() + n);
                    }
                    case 8 ->
                    {
                        final long[] more = {value, value + 1, value + 2};
                        vec.addAll(more);
                        model.add(value);
                        model.add(value + 1);
                        model.add(value + 2);
                    }
                    default ->
                    {
                        if (Math.floorMod(value, 8L) == 0)
                        {
                            vec.clear();
                            model.clear();
                        }
                    }
                }
                assertEquals(model.size(), vec.size());
                for (int i = 0; i < model.size(); i++)
                {
                    assertEquals(model.get(i), vec.get(i), "element " + i);
                }
                assertThrows(IndexOutOfBoundsException.class, () -> vec.get(model.size()));
                assertThrows(IndexOutOfBoundsException.class, () -> vec.get(-1));
            }
            final ArenaView.OfLong view = vec.finish();
            assertThrows(StaleHandleException.class, vec::size, "a finished vector is dead");
            assertEquals(model.size(), view.size());
            assertArrayEquals(model.stream().mapToLong(Long::longValue).toArray(), view.toArray());
            arena.allocate(16, 8); // after finish, new allocations never overlap the view
            assertArrayEquals(model.stream().mapToLong(Long::longValue).toArray(), view.toArray());
            arena.rewind(before);
            if (!model.isEmpty())
            {
                assertFalse(view.isValid());
                assertThrows(StaleHandleException.class, () -> view.get(0));
            }
        }
        baseline.assertBack("native memory");
    }
}
