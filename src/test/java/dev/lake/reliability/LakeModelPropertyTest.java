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

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Model-based test of {@link dev.lake.linear.Lake}: random sequences of every operation of a lake, its views (split
 * recursively), marks, snapshots (including another allocator's), sandboxes (objects and primitive tokens, ended in
 * any order), droplets (including {@code process} with failing writers, and auto-rewind on close), {@code place}
 * with failing wrappers, zeroing switched on and off, reset, clear and close, each checked step by step against
 * the naive model in {@link LakeWorld}. A failing sequence is shrunk by jqwik and printed step by step.
 *
 * <p>Broader than {@code LakeModelTest} (hand-rolled random walks): adds primitive allocations whose bytes are
 * checked, sandbox tokens, sandbox allocation, place/process failures, zeroing, clear, close, generation counters
 * and the stats record; and shrinks failures. Sequences per run: {@link ModelTries}.
 */
@AddLifecycleHook(ModelTries.class)
class LakeModelPropertyTest
{
    @Property
    void everyOperationSequenceMatchesTheModel(@ForAll("lakeSequences") final ActionChain<LakeWorld> chain)
    {
        final long baseline = NativeMemory.reservedBytes();
        try
        {
            chain.withInvariant("model", LakeWorld::verify).run();
            ModelTries.count(chain.transformations().size());
        }
        finally
        {
            LakeWorld.closeAll();
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "every native byte is back after close");
    }

    @AfterContainer
    static void report()
    {
        ModelTries.report("LakeModelPropertyTest");
    }

    @Provide
    Arbitrary<ActionChain<LakeWorld>> lakeSequences()
    {
        final Arbitrary<Integer> who = Arbitraries.integers().between(0, 15);
        final Arbitrary<Integer> size = Arbitraries.integers().between(1, 96);
        final Arbitrary<Integer> align = Arbitraries.integers().between(0, 7).map(i -> 1 << i);
        return ActionChain.startWith(LakeWorld::open)
            .withAction(4, act(Combinators.combine(who, size, align).as((w, s, a) ->
                step("allocate(" + s + ", " + a + ") on #" + w, x -> x.primitive(w, s, a, false)))))
            .withAction(1, act(Combinators.combine(who, size).as((w, s) ->
                step("tryAllocate(" + s + ") on #" + w, x -> x.primitive(w, s, 8, true)))))
            .withAction(1, act(Combinators.combine(who, Arbitraries.integers().between(1, 12)).as((w, n) ->
                step("allocateLongs(" + n + ") on #" + w, x -> x.longs(w, n)))))
            .withAction(4, act(Combinators.combine(who, size, align).as((w, s, a) ->
                step("droplet(" + s + ", " + a + ") on #" + w, x -> x.droplet(w, s, a)))))
            .withAction(2, act(Combinators.combine(who, Arbitraries.integers().between(0, 160), align,
                Arbitraries.integers().between(0, 4)).as((w, k, a, mode) ->
                step("process(keep " + k + ", align " + a + (mode == 1 ? ", negative" : mode == 2 ? ", throws" : "") +
                    ") on #" + w, x -> x.process(w, k, a, mode == 1 || mode == 2 ? mode : 0)))))
            .withAction(1, act(Combinators.combine(who, size, align, Arbitraries.of(false, true)).as((w, s, a, f) ->
                step("place(" + s + ", " + a + (f ? ", wrapper throws" : "") + ") on #" + w, x -> x.place(w, s, a, f)))))
            .withAction(2, act(who.map(w -> step("mark() on #" + w, x -> x.mark(w)))))
            .withAction(2, act(who.map(w -> step("resetToMark() on #" + w, x -> x.resetToMark(w)))))
            .withAction(1, act(who.map(w -> step("moveMark() on #" + w, x -> x.moveMark(w)))))
            .withAction(2, act(who.map(w -> step("snapshot() on #" + w, x -> x.snapshot(w)))))
            .withAction(2, act(Combinators.combine(who, who).as((w, s) ->
                step("rewind(snapshot " + s + ") on #" + w, x -> x.rewind(w, s)))))
            .withAction(1, act(Combinators.combine(who, Arbitraries.integers().between(0, 3)).as((w, c) ->
                step((c == 0 ? "clear()" : "reset()") + " on #" + w, x -> x.reset(w, c == 0)))))
            .withAction(2, act(Combinators.combine(who, Arbitraries.integers().between(16, 700),
                Arbitraries.integers().between(0, 6).map(i -> 1 << i)).as((w, l, a) ->
                step("split(" + l + ", " + a + ") on #" + w, x -> x.split(w, l, a)))))
            .withAction(1, act(who.map(w -> step("close view #" + w, x -> x.closeView(w)))))
            .withAction(2, act(who.map(d -> step("close droplet " + d, x -> x.closeDroplet(d)))))
            .withAction(1, act(Combinators.combine(who, Arbitraries.of(false, true)).as((w, on) ->
                step("setZeroing(" + on + ") on #" + w, x -> x.setZeroing(w, on)))))
            .withAction(2, act(Combinators.combine(who, Arbitraries.of(false, true)).as((w, t) ->
                step((t ? "beginSandbox()" : "sandbox()") + " on #" + w, x -> x.openSandbox(w, t)))))
            .withAction(3, act(Combinators.combine(who, Arbitraries.integers().between(0, 2)).as((s, a) ->
                step((a == 0 ? "commit" : a == 1 ? "rollback/end" : "close") + " sandbox " + s, x -> x.endSandbox(s, a)))))
            .withAction(2, act(Combinators.combine(who, size, Arbitraries.of(false, true)).as((s, n, d) ->
                step((d ? "droplet(" : "allocate(") + n + ") through sandbox " + s, x -> x.allocateInSandbox(s, n, d)))))
            .withAction(1, act(Arbitraries.integers().between(0, 30).map(i -> i == 0 ?
                step("close the lake", LakeWorld::closeLake) : step("verify", x -> { }))))
            .withMaxTransformations(60);
    }

    private static Action.Independent<LakeWorld> act(final Arbitrary<Transformer<LakeWorld>> transformer)
    {
        return () -> transformer;
    }

    private static Transformer<LakeWorld> step(final String description, final java.util.function.Consumer<LakeWorld> body)
    {
        return Transformer.mutate(description, body);
    }
}
