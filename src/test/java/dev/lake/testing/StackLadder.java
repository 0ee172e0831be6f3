package dev.lake.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stack-overflow ladder of the review rounds: cuts an operation short with a {@code StackOverflowError} at each of
 * its calls in turn, then checks what each cut-short call left behind.
 *
 * <p>The probe runs in a child JVM in interpreted mode ({@link ChildJvm#runInterpreted}), where every call is a point at
 * which the error can be thrown. It recurses until the stack overflows, then tries the operation once in each frame on
 * the way back up, each frame having a little more stack than the one below; variants pad the stack by small and big
 * frames first, so that the attempts start at other offsets. Each attempt works on its own freshly built slot of the
 * scenario, which is checked after the ladder, at a normal stack depth (the check makes the retry that the program
 * which caught the error would make). Compiled code inlines such small calls and so shuts most of these windows; they
 * stay open wherever the code runs interpreted (every method before the JIT compiles it, and after a deoptimisation).
 */
public final class StackLadder
{
    /** How many attempts (slots) one variant has at most. */
    public static final int SLOTS = 64;

    private static Scenario current;
    private static int next;
    private static boolean[] cut = new boolean[SLOTS];

    private StackLadder()
    {
    }

    /** One operation under test, on {@link #SLOTS} independent slots. */
    public interface Scenario
    {
        /** Builds slot {@code slot}, at a normal stack depth. */
        void build(int slot);

        /** The operation, on slot {@code slot}, deep in the stack: it may be cut short anywhere. */
        void attempt(int slot);

        /** Checks the slot after the ladder (and retries the cut-short call); null if all is well. */
        String check(int slot, boolean wasCut);

        /** Frees every slot. */
        void closeAll();
    }

    /**
     * Runs in the child: the ladder of scenario {@code name} in {@code variants} stack offsets, then prints
     * {@code probe NAME violations N cut C attempts A} and up to five violations.
     *
     * @param name      the scenario's name, as the test passes it.
     * @param scenarios makes a fresh scenario from its name.
     * @param variants  how many stack offsets to try.
     */
    public static void probe(final String name, final Function<String, Scenario> scenarios, final int variants)
    {
        int violations = 0;
        int cuts = 0;
        int attempts = 0;
        final List<String> details = new ArrayList<>();
        // once at a normal depth first: every class and call site the scenario reaches is loaded and linked here, not
        // at the edge of the stack (a class initialisation cut short would fail that class for good)
        final Scenario warm = scenarios.apply(name);
        warm.build(0);
        warm.attempt(0);
        warm.check(0, false);
        warm.closeAll();
        for (int variant = 0; variant < variants; variant++)
        {
            final Scenario s = scenarios.apply(name);
            for (int i = 0; i < SLOTS; i++)
            {
                s.build(i);
            }
            next = 0;
            cut = new boolean[SLOTS];
            current = s;
            padSmall(variants - variant, variant);
            current = null;
            attempts += next;
            for (int i = 0; i < next; i++)
            {
                if (cut[i])
                {
                    cuts++;
                }
                String bad;
                try
                {
                    bad = s.check(i, cut[i]);
                }
                catch (final RuntimeException ex)
                {
                    bad = "the check failed: " + ex;
                }
                if (bad != null)
                {
                    violations++;
                    if (details.size() < 5)
                    {
                        details.add("variant " + variant + " slot " + i + " cut " + cut[i] + ": " + bad);
                    }
                }
            }
            s.closeAll();
        }
        System.out.println("probe " + name + " violations " + violations + " cut " + cuts + " attempts " + attempts + " ");
        details.forEach(System.out::println);
    }

    /**
     * Runs {@code probe}'s {@code main} with {@code scenario} in an interpreted child JVM and asserts that the ladder cut
     * the operation short at least once and that no slot was left in a bad state.
     *
     * @param probe    a class whose {@code main(String[])} calls {@link #probe} with its first argument.
     * @param scenario the scenario's name.
     * @throws Exception if the child cannot be started or waited for.
     */
    public static void assertClean(final Class<?> probe, final String scenario) throws Exception
    {
        final String out = ChildJvm.runInterpreted(probe, scenario);
        assertTrue(out.contains("probe " + scenario + " violations 0 "), out);
        assertTrue(!out.contains(" cut 0 "), "the ladder never cut the call short: " + out);
    }

    // Pads the stack by small and big frames so that each variant starts the ladder at another stack offset (a big
    // frame has one more 8-byte slot), then runs the ladder.
    private static void padSmall(final int small, final int big)
    {
        if (small == 0)
        {
            padBig(big);
        }
        else
        {
            padSmall(small - 1, big);
        }
    }

    private static void padBig(final int big)
    {
        int extra = big;
        if (big == 0)
        {
            dive();
        }
        else
        {
            padBig(big - 1);
        }
        extra++;
    }

    private static void dive()
    {
        try
        {
            dive();
        }
        catch (final StackOverflowError overflow)
        {
            climb();
        }
    }

    // One attempt in this frame: a slot is marked cut before the call and unmarked when it returns, so a slot whose
    // call threw stays marked. Returns normally once one attempt got through (or the slots ran out).
    private static void climb()
    {
        final int slot = next;
        if (slot >= SLOTS)
        {
            return;
        }
        next = slot + 1;
        cut[slot] = true;
        current.attempt(slot);
        cut[slot] = false;
    }
}
