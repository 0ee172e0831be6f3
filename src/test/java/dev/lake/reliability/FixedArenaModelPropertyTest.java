package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Model-based test of {@link dev.lake.pool.FixedArena}, both tiers in one sequence (single-threaded: the races are
 * the jcstress tests' job): allocate in every form, write (past capacity too, with and without auto-spill), freeze,
 * close unfrozen buffers, retain and slice {@code Bytes}, release (twice too), handles written, frozen, retained and
 * released, and close of the arena with live references; under both init policies. Checked step by step against
 * {@link FixedArenaWorld}: exact metrics, liveness of every reference, every live byte, region freed exactly when
 * closed and empty. Failing sequences are shrunk and printed. Sequences per run: {@link ModelTries}.
 */
@AddLifecycleHook(ModelTries.class)
class FixedArenaModelPropertyTest
{
    @Property
    void everyOperationSequenceMatchesTheModel(@ForAll("poolSequences") final ActionChain<FixedArenaWorld> chain)
    {
        final long baseline = NativeMemory.reservedBytes();
        try
        {
            chain.withInvariant("model", FixedArenaWorld::verify).run();
            ModelTries.count(chain.transformations().size());
        }
        finally
        {
            FixedArenaWorld.closeAll();
        }
        final FixedArenaWorld world = chain.finalState().orElse(null);
        if (world != null)
        {
            world.bytes.stream().filter(r -> !r.released).forEach(r -> r.real.release());
            world.buffers.forEach(w -> w.real.close());
            world.handles.forEach(s -> { while (s.references-- > 0) { world.arena.release(s.handle); } });
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "the region is freed once everything is released");
    }

    @AfterContainer
    static void report()
    {
        ModelTries.report("FixedArenaModelPropertyTest");
    }

    @Provide
    Arbitrary<ActionChain<FixedArenaWorld>> poolSequences()
    {
        final Arbitrary<Integer> pick = Arbitraries.integers().between(0, 15);
        return Arbitraries.integers().between(0, 3).flatMap(config -> ActionChain
            .startWith(() -> FixedArenaWorld.open(config))
            .withAction(3, act(Combinators.combine(Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(-1, 40)).as((f, c) ->
                step((f == 0 ? "allocate()" : f == 1 ? "tryAllocate()" : "allocate(" + c + ")") + " [config " + config + "]",
                    w -> w.allocate(f, c)))))
            .withAction(3, act(Combinators.combine(pick, Arbitraries.integers().between(0, 40)).as((b, n) ->
                step("write " + n + " B to buffer " + b, w -> w.write(b, n)))))
            .withAction(2, act(pick.map(b -> step("freeze buffer " + b, w -> w.freeze(b)))))
            .withAction(1, act(pick.map(b -> step("close buffer " + b, w -> w.closeBuffer(b)))))
            .withAction(2, act(Combinators.combine(pick, Arbitraries.of(false, true), Arbitraries.integers().between(0, 40),
                Arbitraries.integers().between(0, 40)).as((r, slice, o, l) ->
                step((slice ? "slice(" + o + ", " + l + ")" : "retain()") + " of bytes " + r, w -> w.share(r, slice, o, l)))))
            .withAction(3, act(pick.map(r -> step("release bytes " + r, w -> w.release(r)))))
            .withAction(2, act(Arbitraries.of(false, true).map(t ->
                step(t ? "tryAllocateHandle()" : "allocateHandle()", w -> w.allocateHandle(t)))))
            .withAction(2, act(Combinators.combine(pick, Arbitraries.integers().between(0, 40)).as((h, n) ->
                step("write " + n + " B to handle " + h, w -> w.writeHandle(h, n)))))
            .withAction(1, act(Combinators.combine(pick, Arbitraries.integers().between(0, 40)).as((h, n) ->
                step("freezeHandle(" + n + ") of handle " + h, w -> w.freezeHandle(h, n)))))
            .withAction(1, act(pick.map(h -> step("retain handle " + h, w -> w.retainHandle(h)))))
            .withAction(2, act(pick.map(h -> step("release handle " + h, w -> w.releaseHandle(h)))))
            .withAction(1, act(Arbitraries.integers().between(0, 25).map(i -> i == 0 ?
                step("close the arena", FixedArenaWorld::close) : step("verify", w -> { }))))
            .withMaxTransformations(60));
    }

    private static Action.Independent<FixedArenaWorld> act(final Arbitrary<Transformer<FixedArenaWorld>> transformer)
    {
        return () -> transformer;
    }

    private static Transformer<FixedArenaWorld> step(final String description, final Consumer<FixedArenaWorld> body)
    {
        return Transformer.mutate(description, body);
    }
}
