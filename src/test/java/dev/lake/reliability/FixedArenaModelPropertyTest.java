package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.ModelCheck;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.lake.testing.ModelCheck.between;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Model-based test of {@link dev.lake.pool.FixedArena}, both tiers in one sequence (single-threaded: the races are
 * the jcstress tests' job): allocate in every form, write (past capacity too, with and without auto-spill), freeze,
 * close unfrozen buffers, retain and slice {@code Bytes}, release (twice too), handles written, frozen, retained and
 * released, and close of the arena with live references; under both init policies. Checked step by step against
 * {@link FixedArenaWorld}: exact metrics, liveness of every reference, every live byte, region freed exactly when
 * closed and empty. Failing sequences are shrunk and printed. Sequences per run: {@link ModelTries}.
 */
class FixedArenaModelPropertyTest
{
    @Test
    void everyOperationSequenceMatchesTheModel()
    {
        final long baseline = NativeMemory.reservedBytes();
        final int tries = ModelTries.tries();
        long steps = 0;
        for (int config = 0; config < 4; config++) // init policy x auto-spill
        {
            final int c = config;
            steps += ModelCheck.run("FixedArena [config " + c + "]", Math.max(1, tries / 4), 60,
                () -> FixedArenaWorld.open(c), menu(c));
        }
        ModelTries.report("FixedArenaModelPropertyTest", Math.max(1, tries / 4) * 4L, steps);
        assertEquals(baseline, NativeMemory.reservedBytes(), "the region is freed once everything is released");
    }

    private static ModelCheck.Menu<FixedArenaWorld> menu(final int config)
    {
        return new ModelCheck.Menu<FixedArenaWorld>()
            .add(3, r ->
            {
                final int f = between(r, 0, 2), c = between(r, -1, 40);
                return step((f == 0 ? "allocate()" : f == 1 ? "tryAllocate()" : "allocate(" + c + ")") +
                    " [config " + config + "]", w -> w.allocate(f, c));
            })
            .add(3, r ->
            {
                final int b = pick(r), n = between(r, 0, 40);
                return step("write " + n + " B to buffer " + b, w -> w.write(b, n));
            })
            .add(2, r ->
            {
                final int b = pick(r);
                return step("freeze buffer " + b, w -> w.freeze(b));
            })
            .add(1, r ->
            {
                final int b = pick(r);
                return step("close buffer " + b, w -> w.closeBuffer(b));
            })
            .add(2, r ->
            {
                final int b = pick(r), o = between(r, 0, 40), l = between(r, 0, 40);
                final boolean slice = r.nextBoolean();
                return step((slice ? "slice(" + o + ", " + l + ")" : "retain()") + " of bytes " + b,
                    w -> w.share(b, slice, o, l));
            })
            .add(3, r ->
            {
                final int b = pick(r);
                return step("release bytes " + b, w -> w.release(b));
            })
            .add(2, r ->
            {
                final boolean t = r.nextBoolean();
                return step(t ? "tryAllocateHandle()" : "allocateHandle()", w -> w.allocateHandle(t));
            })
            .add(2, r ->
            {
                final int h = pick(r), n = between(r, 0, 40);
                return step("write " + n + " B to handle " + h, w -> w.writeHandle(h, n));
            })
            .add(1, r ->
            {
                final int h = pick(r), n = between(r, 0, 40);
                return step("freezeHandle(" + n + ") of handle " + h, w -> w.freezeHandle(h, n));
            })
            .add(1, r ->
            {
                final int h = pick(r);
                return step("retain handle " + h, w -> w.retainHandle(h));
            })
            .add(2, r ->
            {
                final int h = pick(r);
                return step("release handle " + h, w -> w.releaseHandle(h));
            })
            .add(1, r -> between(r, 0, 25) == 0 ? step("close the arena", FixedArenaWorld::closeArena) : step("verify", w -> { }));
    }

    private static int pick(final SplittableRandom r)
    {
        return between(r, 0, 15);
    }

    private static ModelCheck.Step<FixedArenaWorld> step(final String description, final ModelCheck.Body<FixedArenaWorld> body)
    {
        return ModelCheck.step(description, body, FixedArenaWorld::verify);
    }
}
