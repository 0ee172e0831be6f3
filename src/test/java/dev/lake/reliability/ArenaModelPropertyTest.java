package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.Checkpoint;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

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
@AddLifecycleHook(ModelTries.class)
class ArenaModelPropertyTest
{
    @Property
    void everyOperationSequenceMatchesTheModel(@ForAll("arenaSequences") final ActionChain<ArenaWorld> chain)
    {
        final long baseline = NativeMemory.reservedBytes();
        try
        {
            chain.withInvariant("model", ArenaWorld::verify).run();
            ModelTries.count(chain.transformations().size());
        }
        finally
        {
            ArenaWorld.closeAll();
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "every block is freed by close");
    }

    @AfterContainer
    static void report()
    {
        ModelTries.report("ArenaModelPropertyTest");
    }

    @Provide
    Arbitrary<ActionChain<ArenaWorld>> arenaSequences()
    {
        final Arbitrary<Integer> pick = Arbitraries.integers().between(0, 15);
        final Arbitrary<Integer> size = Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(8, Arbitraries.integers().between(1, 120)),
            net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(121, 1500)));
        final Arbitrary<Integer> align = Arbitraries.integers().between(0, 8).map(i -> 1 << i);
        return ActionChain.startWith(ArenaWorld::open)
            .withAction(6, act(Combinators.combine(Arbitraries.integers().between(-3, 15), size, align,
                Arbitraries.integers().between(0, 2)).as((via, s, a, f) ->
                step((f == 1 ? "tryAllocate(" : f == 2 ? "allocateZeroed(" : "allocate(") + s + ", " + a + ")" +
                    (via < 0 ? "" : " in transaction " + via), w -> w.allocate(via, s, a, f)))))
            .withAction(2, act(Arbitraries.just(step("checkpoint()", ArenaWorld::checkpoint))))
            .withAction(2, act(Arbitraries.integers().between(-2, 15).map(c ->
                step(c == -1 ? "rewind(foreign checkpoint)" : c == -2 ? "rewind(innermost transaction's checkpoint)" :
                    "rewind(checkpoint " + c + ")", w -> w.rewind(c)))))
            .withAction(1, act(Arbitraries.just(step("reset()", ArenaWorld::reset))))
            .withAction(3, act(Combinators.combine(Arbitraries.integers().between(-1, 15), Arbitraries.of(false, true))
                .as((from, token) -> step(token ? "beginTransaction()" : from < 0 ? "transaction()" :
                    "savepoint() of transaction " + from, w -> w.begin(from, token)))))
            .withAction(3, act(Combinators.combine(pick, Arbitraries.integers().between(0, 2)).as((t, a) ->
                step((a == 0 ? "commit" : a == 1 ? "rollback/end" : "close") + " transaction " + t, w -> w.end(t, a)))))
            .withAction(1, act(Combinators.combine(pick, Arbitraries.longs().between(-2, 2000)).as((t, l) ->
                step("setLimit(" + l + ") on transaction " + t, w -> w.setLimit(t, l)))))
            .withAction(1, act(Arbitraries.just(step("defer(cleanup)", ArenaWorld::defer))))
            .withAction(1, act(Arbitraries.integers().between(0, 40).map(i -> i == 0 ?
                step("close()", ArenaWorld::close) : step("verify", w -> { }))))
            .withMaxTransformations(60);
    }

    /**
     * ArenaVec against a list: push, pop, set, truncate, clear, reserve and addAll, interleaved with other
     * allocations (the vector then moves instead of growing in place); finish hands out a view with the same
     * elements; a rewind to a checkpoint taken before the vector makes both stale.
     */
    @Property
    void arenaVecBehavesLikeAList(
        @ForAll @Size(max = 80) final List<@IntRange(min = 0, max = 9) Integer> ops,
        @ForAll final long seed)
    {
        final long baseline = NativeMemory.reservedBytes();
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
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    private static Action.Independent<ArenaWorld> act(final Arbitrary<Transformer<ArenaWorld>> transformer)
    {
        return () -> transformer;
    }

    private static Transformer<ArenaWorld> step(final String description, final Consumer<ArenaWorld> body)
    {
        return Transformer.mutate(description, body);
    }
}
