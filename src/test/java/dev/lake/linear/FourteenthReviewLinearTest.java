package dev.lake.linear;

import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.junit.jupiter.api.Test;

/**
 * Fourteenth review round of {@code dev.lake.linear}: the tests marked "Finding" failed on the code before their fix;
 * those marked "Pinned guard" passed before it too and keep the same invariant for the neighbouring calls.
 *
 * <p>The {@code StackOverflowError} cases run in a child JVM in interpreted mode ({@code -Xint}), where every call is a
 * point at which the error can be thrown, so a "ladder" (recurse until the stack overflows, then try the operation
 * once in each frame on the way back up, each frame having a little more stack than the one below) cuts the operation
 * short at each of its calls in turn. Compiled code inlines such small calls and so shuts most of these windows; they
 * stay open wherever the code runs interpreted (every method before the JIT compiles it, and after a deoptimisation),
 * and the interpreter is the deterministic way to reach each one. Each attempt works on its own freshly built scenario, so
 * what one cut-short call left behind is checked on its own, after the ladder, at a normal stack depth (the "retry"
 * the program that caught the error would make). As in the thirteenth round's slice fixes: state that a call changes
 * before one of its calls must be consistent whatever that call throws.
 */
class FourteenthReviewLinearTest
{
    // ------------------------------------------------------------------------------------------------------------
    // The child JVM
    // ------------------------------------------------------------------------------------------------------------

    private static void assertClean(final String scenario) throws Exception
    {
        StackLadder.assertClean(StackProbe.class, scenario);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Tests
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Finding. A rewind that renews an epoch holding a view lowered {@code viewTop} and renewed the entry, then bumped
     * the lake's stamp through a call; cut short there (a {@code StackOverflowError}), the view kept its cached stamp,
     * and the retried rewind renewed the entry again without a bump ({@code viewTop} was already lowered): the view
     * stayed valid over the memory the lake had taken back, and the lake's next droplet and the view's first droplet
     * were both valid at offset 0. Fixed: the stamp is bumped first, with a store.
     */
    @Test
    void aResetCutShortAfterRenewingAViewsEpochStillKillsTheView() throws Exception
    {
        assertClean("view-renew");
    }

    /**
     * Pinned guard (passes before the fix too: the interpreter reaches no window there), the capping path's twin of the
     * renewal case above.
     */
    @Test
    void aRewindCutShortAfterCappingAViewsEpochStillKillsTheView() throws Exception
    {
        assertClean("view-cap");
    }

    /**
     * Finding on JDK 25 (JDK 17's interpreter frames reach no window there): a {@code sandbox()} cut short at the
     * floor's raise in {@code pushSandbox} left a sandbox open that nobody held (the CI run on JDK 25 failed so). Fixed:
     * the floor is raised with stores before the depth store, and the object is built before the push. The invariant:
     * a {@code sandbox()} cut short never leaves a sandbox open that nobody
     * holds, which would keep the enclosing one from committing.
     */
    @Test
    void aSandboxRefusedMidwayLeavesNoSandboxOpen() throws Exception
    {
        assertClean("sandbox");
    }

    /** Finding on JDK 25, as above: the same for {@code beginSandbox()}. */
    @Test
    void aSandboxTokenRefusedMidwayLeavesNoSandboxOpen() throws Exception
    {
        assertClean("token");
    }

    /** Pinned guard (passes before the fix too): a {@code mark()} cut short pushes no mark. */
    @Test
    void aMarkRefusedMidwayPushesNoMark() throws Exception
    {
        assertClean("mark");
    }

    /**
     * Finding. {@code resetToMark()} popped the mark, then called the rewind: cut short at that call, the mark was gone
     * and the position unchanged, so the retry threw "no mark" and the scope's allocations stayed (a {@code with()} of
     * {@code ThreadLakes} unwinding its marks in a {@code finally} lost its restore point so). Fixed: popped after the
     * rewind, which keeps a mark at its own target.
     */
    @Test
    void aResetToMarkCutShortKeepsTheMarkForTheRetry() throws Exception
    {
        assertClean("reset-to-mark");
    }

    /**
     * Finding. {@code clear()} switched zeroing off around its rewind and back on after it, then reset the floor and
     * wiped: cut short inside, a zeroing lake was left with zeroing off, or with the used bytes given back unwiped
     * while {@code isZeroing()} said true (its next allocation handed out the secret's bytes), or with a floor that let
     * later rewinds skip the wipe. Fixed: zeroing stays on through the rewind (which wipes the used bytes itself).
     */
    @Test
    void aClearCutShortLeavesAZeroingLakeZeroing() throws Exception
    {
        assertClean("clear");
    }

    /** Pinned guard (passes before the fix too): a {@code setZeroing(true)} cut short never hands out a dirty byte. */
    @Test
    void zeroingSwitchedOnMidwayHandsOutNoDirtyByte() throws Exception
    {
        assertClean("zeroing");
    }

    /**
     * Pinned guard (passes before the fix too): a {@code close()} cut short leaves the lake either open over its region
     * or closed with every allocation refused.
     */
    @Test
    void aCloseCutShortAfterMarkingTheLakeClosedRefusesAllocations() throws Exception
    {
        assertClean("close");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The probe
    // ------------------------------------------------------------------------------------------------------------

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;
        private static final int VARIANTS = 24;

        public static void main(final String[] args)
        {
            StackLadder.probe(args[0], StackProbe::scenario, VARIANTS);
        }

        private static Scenario scenario(final String name)
        {
            return switch (name)
            {
                case "view-renew" -> new ViewRenew();
                case "view-cap" -> new ViewCap();
                case "sandbox" -> new SandboxOpen();
                case "token" -> new TokenOpen();
                case "mark" -> new MarkPush();
                case "reset-to-mark" -> new MarkReset();
                case "clear" -> new ClearZeroing();
                case "zeroing" -> new ZeroingOn();
                case "close" -> new CloseLake();
                default -> throw new IllegalArgumentException(name);
            };
        }

        abstract static class Lakes implements Scenario
        {
            final Lake[] lakes = new Lake[SLOTS];

            @Override
            public void closeAll()
            {
                for (final Lake lake : lakes)
                {
                    if (lake != null)
                    {
                        lake.close();
                    }
                }
            }
        }

        /** A view, then the lake reset below it: the reset renews the view's epoch. */
        static final class ViewRenew extends Lakes
        {
            final LakeView[] views = new LakeView[SLOTS];

            @Override
            public void build(final int slot)
            {
                lakes[slot] = Lake.of(4096);
                views[slot] = lakes[slot].split(256);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].reset();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                lake.reset(); // the retry
                if (views[slot].isValid())
                {
                    final Droplet mine = lake.droplet(64);
                    final Droplet theirs = views[slot].droplet(64);
                    return "the view outlived the reset: the lake's droplet at " + mine.offset() +
                        " and the view's at " + theirs.offset() + " are both valid";
                }
                return null;
            }
        }

        /** A droplet, a snapshot after it, a view, then the rewind to the snapshot: it caps the view's epoch. */
        static final class ViewCap extends Lakes
        {
            final LakeView[] views = new LakeView[SLOTS];
            final LakeSnapshot[] snapshots = new LakeSnapshot[SLOTS];

            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.of(4096);
                lakes[slot] = lake;
                lake.droplet(8);
                snapshots[slot] = lake.snapshot();
                views[slot] = lake.split(256);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].rewind(snapshots[slot]);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                lake.rewind(snapshots[slot]); // the retry
                if (views[slot].isValid())
                {
                    final Droplet mine = lake.droplet(64);
                    final Droplet theirs = views[slot].droplet(64);
                    return "the view outlived the rewind: the lake's droplet at " + mine.offset() +
                        " and the view's at " + theirs.offset() + " are both valid";
                }
                return null;
            }
        }

        /** An inner sandbox opened inside an outer one: refused, it must leave the outer one able to commit. */
        static final class SandboxOpen extends Lakes
        {
            final Sandbox[] outer = new Sandbox[SLOTS];
            final Sandbox[] inner = new Sandbox[SLOTS];

            @Override
            public void build(final int slot)
            {
                lakes[slot] = Lake.of(4096);
                lakes[slot].allocate(64);
                outer[slot] = lakes[slot].sandbox();
                lakes[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                inner[slot] = lakes[slot].sandbox();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (inner[slot] != null)
                {
                    inner[slot].close();
                }
                final int open = lakes[slot].openSandboxes();
                try
                {
                    outer[slot].commit();
                }
                catch (final RuntimeException refused)
                {
                    return open + " sandboxes open where 1 was, and the outer one cannot commit: " + refused;
                }
                return open == 1 ? null : open + " sandboxes open where 1 was";
            }
        }

        /** The same with a token. */
        static final class TokenOpen extends Lakes
        {
            final long[] outer = new long[SLOTS];
            final long[] inner = new long[SLOTS];

            @Override
            public void build(final int slot)
            {
                lakes[slot] = Lake.of(4096);
                lakes[slot].allocate(64);
                outer[slot] = lakes[slot].beginSandbox();
                lakes[slot].allocate(64);
                inner[slot] = -1;
            }

            @Override
            public void attempt(final int slot)
            {
                inner[slot] = lakes[slot].beginSandbox();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (inner[slot] != -1)
                {
                    lakes[slot].endSandbox(inner[slot]);
                }
                final int open = lakes[slot].openSandboxes();
                try
                {
                    lakes[slot].commitSandbox(outer[slot]);
                }
                catch (final RuntimeException refused)
                {
                    return open + " sandboxes open where 1 was, and the outer token cannot commit: " + refused;
                }
                return open == 1 ? null : open + " sandboxes open where 1 was";
            }
        }

        /**
         * A mark: refused, it must push none (the caller's {@code resetToMark()} in its {@code finally} never runs,
         * so an enclosing scope's reset would pop it instead of its own).
         */
        static final class MarkPush extends Lakes
        {
            final boolean[] done = new boolean[SLOTS];

            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.of(4096);
                lakes[slot] = lake;
                lake.allocate(8);
                lake.reset(); // a full rewind: the floor is now exact (0)
                lake.allocate(64);
                lake.mark(); // the enclosing scope's mark, at 64
                lake.allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].mark();
                done[slot] = true;
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                if (done[slot])
                {
                    lake.resetToMark();
                }
                final int depth = lake.markDepth();
                lake.resetToMark(); // the enclosing scope's reset
                if (depth != 1 || lake.position() != 64)
                {
                    return "marks " + depth + " where 1 was; the enclosing reset went to " + lake.position() +
                        " instead of 64";
                }
                return null;
            }
        }

        /** A reset to a mark over a droplet (the full rewind): cut short, the mark must stay for the retry. */
        static final class MarkReset extends Lakes
        {
            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.of(4096);
                lakes[slot] = lake;
                lake.allocate(64);
                lake.mark();
                lake.droplet(64);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].resetToMark();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                if (lake.position() == 64)
                {
                    if (lake.markDepth() == 0)
                    {
                        return null;
                    }
                    // cut short after its rewind (at the floor's reset, a window on JDK 25's frames): the mark stays,
                    // and the retry must finish the call, popping it with the position left where it is
                    lake.resetToMark();
                    return lake.position() == 64 && lake.markDepth() == 0 ? null :
                        "reset to the mark, kept it, and the retry left position " + lake.position() + ", marks " +
                        lake.markDepth();
                }
                final int depth = lake.markDepth();
                try
                {
                    lake.resetToMark(); // the retry
                }
                catch (final IllegalStateException lost)
                {
                    return "resetToMark() threw with the mark popped and the position still " + lake.position() +
                        " (marks " + depth + "): the retry has no mark";
                }
                return lake.position() == 64 ? null : "the retry went to " + lake.position();
            }
        }

        /**
         * {@code clear()} of a zeroing lake holding a secret: cut short or not, the lake must still be zeroing, and
         * nothing it hands out afterwards, nor any rewind, may leave the secret readable.
         */
        static final class ClearZeroing extends Lakes
        {
            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.builder(4096).zeroing(true).build();
                lakes[slot] = lake;
                lake.allocate(64);
                lake.mark();
                final int at = lake.allocate(256);
                lake.buffer().setMemory(at, 256, (byte)0x5A);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].clear();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                if (!lake.isZeroing())
                {
                    return "a zeroing lake's clear() switched zeroing off";
                }
                // whatever the cut left: the secret must not come back through an allocation or survive a rewind
                lake.allocate(8);
                lake.mark();
                final int at = lake.allocate(512);
                for (int i = 0; i < 512; i++)
                {
                    if (lake.buffer().getByte(at + i) != 0)
                    {
                        return "a zeroing lake handed out a dirty byte at " + (at + i) + " after clear()";
                    }
                }
                lake.buffer().setMemory(at, 512, (byte)0x33);
                lake.resetToMark();
                for (int i = 0; i < 512; i++)
                {
                    if (lake.buffer().getByte(at + i) != 0)
                    {
                        return "a zeroing lake's resetToMark() left byte " + (at + i) + " unwiped after clear()";
                    }
                }
                return null;
            }
        }

        /** Zeroing switched on over dirty free bytes: every byte handed out afterwards must read zero. */
        static final class ZeroingOn extends Lakes
        {
            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.of(4096);
                lakes[slot] = lake;
                final int at = lake.allocate(4096);
                lake.buffer().setMemory(at, 4096, (byte)0x5A);
                lake.reset();
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].setZeroing(true);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                if (!lake.isZeroing())
                {
                    return null; // refused before it switched: nothing promised
                }
                final int at = lake.allocate(64);
                for (int i = 0; i < 64; i++)
                {
                    if (lake.buffer().getByte(at + i) != 0)
                    {
                        return "isZeroing() and allocate(64) handed out a dirty byte at " + (at + i);
                    }
                }
                return null;
            }
        }

        /** A close: once the lake says it is closed, every allocation must be refused. */
        static final class CloseLake extends Lakes
        {
            @Override
            public void build(final int slot)
            {
                lakes[slot] = Lake.of(4096);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].close();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                if (lake.isOpen())
                {
                    // refused before it closed (the retry, closeAll, frees it), but never open over a freed region
                    return lake.buffer().capacity() == 0 ? "the lake says open over its freed region" : null;
                }
                try
                {
                    final int at = lake.allocate(64);
                    return "a closed lake handed out offset " + at;
                }
                catch (final IllegalStateException refused)
                {
                    return null;
                }
            }
        }
    }
}
