package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.ModelCheck;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.lake.testing.ModelCheck.between;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Model-based test of {@link dev.lake.linear.Lake}: random sequences of every operation of a lake, its views (split
 * recursively), marks, snapshots (including another allocator's), sandboxes (objects and primitive tokens, ended in
 * any order), droplets (including {@code process} with failing writers, and auto-rewind on close), {@code place}
 * with failing wrappers, zeroing switched on and off, reset, clear and close, each checked step by step against
 * the naive model in {@link LakeWorld}. A failing sequence is shrunk ({@link ModelCheck}) and printed step by step.
 *
 * <p>Broader than {@code LakeModelTest} (hand-rolled random walks): adds primitive allocations whose bytes are
 * checked, sandbox tokens, sandbox allocation, place/process failures, zeroing, clear, close, generation counters
 * and the stats record; and shrinks failures. Sequences per run: {@link ModelTries}.
 */
class LakeModelPropertyTest
{
    @Test
    void everyOperationSequenceMatchesTheModel()
    {
        final long baseline = NativeMemory.reservedBytes();
        final int tries = ModelTries.tries();
        final long steps = ModelCheck.run("Lake", tries, 60, LakeWorld::open, menu());
        ModelTries.report("LakeModelPropertyTest", tries, steps);
        assertEquals(baseline, NativeMemory.reservedBytes(), "every native byte is back after close");
    }

    private static ModelCheck.Menu<LakeWorld> menu()
    {
        return new ModelCheck.Menu<LakeWorld>()
            .add(4, r ->
            {
                final int w = who(r), s = size(r), a = align(r);
                return step("allocate(" + s + ", " + a + ") on #" + w, x -> x.primitive(w, s, a, false));
            })
            .add(1, r ->
            {
                final int w = who(r), s = size(r);
                return step("tryAllocate(" + s + ") on #" + w, x -> x.primitive(w, s, 8, true));
            })
            .add(1, r ->
            {
                final int w = who(r), n = between(r, 1, 12);
                return step("allocateLongs(" + n + ") on #" + w, x -> x.longs(w, n));
            })
            .add(4, r ->
            {
                final int w = who(r), s = size(r), a = align(r);
                return step("droplet(" + s + ", " + a + ") on #" + w, x -> x.droplet(w, s, a));
            })
            .add(2, r ->
            {
                final int w = who(r), k = between(r, 0, 160), a = align(r), mode = between(r, 0, 4);
                return step("process(keep " + k + ", align " + a + (mode == 1 ? ", negative" : mode == 2 ? ", throws" : "") +
                    ") on #" + w, x -> x.process(w, k, a, mode == 1 || mode == 2 ? mode : 0));
            })
            .add(1, r ->
            {
                final int w = who(r), s = size(r), a = align(r);
                final boolean f = r.nextBoolean();
                return step("place(" + s + ", " + a + (f ? ", wrapper throws" : "") + ") on #" + w, x -> x.place(w, s, a, f));
            })
            .add(2, r ->
            {
                final int w = who(r);
                return step("mark() on #" + w, x -> x.mark(w));
            })
            .add(2, r ->
            {
                final int w = who(r);
                return step("resetToMark() on #" + w, x -> x.resetToMark(w));
            })
            .add(1, r ->
            {
                final int w = who(r);
                return step("moveMark() on #" + w, x -> x.moveMark(w));
            })
            .add(2, r ->
            {
                final int w = who(r);
                return step("snapshot() on #" + w, x -> x.snapshot(w));
            })
            .add(2, r ->
            {
                final int w = who(r), sn = who(r);
                return step("rewind(snapshot " + sn + ") on #" + w, x -> x.rewind(w, sn));
            })
            .add(1, r ->
            {
                final int w = who(r);
                final boolean clear = between(r, 0, 3) == 0;
                return step((clear ? "clear()" : "reset()") + " on #" + w, x -> x.reset(w, clear));
            })
            .add(2, r ->
            {
                final int w = who(r), l = between(r, 16, 700), a = 1 << between(r, 0, 6);
                return step("split(" + l + ", " + a + ") on #" + w, x -> x.split(w, l, a));
            })
            .add(1, r ->
            {
                final int w = who(r);
                return step("close view #" + w, x -> x.closeView(w));
            })
            .add(2, r ->
            {
                final int d = who(r);
                return step("close droplet " + d, x -> x.closeDroplet(d));
            })
            .add(1, r ->
            {
                final int w = who(r);
                final boolean on = r.nextBoolean();
                return step("setZeroing(" + on + ") on #" + w, x -> x.setZeroing(w, on));
            })
            .add(2, r ->
            {
                final int w = who(r);
                final boolean token = r.nextBoolean();
                return step((token ? "beginSandbox()" : "sandbox()") + " on #" + w, x -> x.openSandbox(w, token));
            })
            .add(3, r ->
            {
                final int sb = who(r), a = between(r, 0, 2);
                return step((a == 0 ? "commit" : a == 1 ? "rollback/end" : "close") + " sandbox " + sb, x -> x.endSandbox(sb, a));
            })
            .add(2, r ->
            {
                final int sb = who(r), n = size(r);
                final boolean d = r.nextBoolean();
                return step((d ? "droplet(" : "allocate(") + n + ") through sandbox " + sb, x -> x.allocateInSandbox(sb, n, d));
            })
            .add(1, r -> between(r, 0, 30) == 0 ? step("close the lake", LakeWorld::closeLake) : step("verify", x -> { }));
    }

    private static int who(final SplittableRandom r)
    {
        return between(r, 0, 15);
    }

    private static int size(final SplittableRandom r)
    {
        return between(r, 1, 96);
    }

    private static int align(final SplittableRandom r)
    {
        return 1 << between(r, 0, 7);
    }

    private static ModelCheck.Step<LakeWorld> step(final String description, final ModelCheck.Body<LakeWorld> body)
    {
        return ModelCheck.step(description, body, LakeWorld::verify);
    }
}
