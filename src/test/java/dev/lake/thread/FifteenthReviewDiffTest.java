package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.memory.Memory;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review of the fifteenth round's diff: a {@code release()} cut short by a {@code StackOverflowError} must never leave
 * the calling thread holding, as its current lake, a lake already given back (pooled, another thread's next), and the
 * retry must leave every lake pooled or closed. Pinned guards in interpreted mode (they pass). The probe also runs
 * compiled ({@code Probe plain ROUNDS WARM} without {@code -Xint}): there, not reliably, JDK 25 showed a
 * {@code StackOverflowError} delayed to the end of the pool's {@code offer} ({@code @ReservedStackAccess}) leave the
 * pooled lake current on the releasing thread, and JDK 17 and 25 a lease set whose size stays one above its entries.
 */
class FifteenthReviewDiffTest
{
    private static String runProbe(final String scenario, final boolean interpreted, final int rounds) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(Memory.REQUIRED_FLAG.split(" ")));
        if (interpreted)
        {
            command.add("-Xint");
        }
        command.add("-Xss512k");
        command.add("-Xmx64m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Probe.class.getName());
        command.add(scenario);
        command.add(Integer.toString(rounds));
        command.add(interpreted ? "0" : "200000");
        final File log = File.createTempFile("lake-soe-diff-probe", ".out");
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
            if (!process.waitFor(60, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
                fail("probe ran past 60 s: " + Files.readString(log.toPath(), StandardCharsets.UTF_8));
            }
            final String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
            assertEquals(0, process.exitValue(), out);
            return out;
        }
        finally
        {
            Files.deleteIfExists(log.toPath());
        }
    }

    @Test
    void aReleaseCutShortNeverLeavesAGivenBackLakeCurrent() throws Exception
    {
        final String out = runProbe("plain", true, 1);
        System.out.println(out);
        assertTrue(out.contains(" violations 0 "), out);
        assertTrue(!out.contains(" cut 0 "), "the ladder never cut the call short: " + out);
    }

    @Test
    void aReleaseCutShortOnALakeThreadNeverLeavesAGivenBackLakeCurrent() throws Exception
    {
        final String out = runProbe("lakethread", true, 1);
        System.out.println(out);
        assertTrue(out.contains(" violations 0 "), out);
        assertTrue(!out.contains(" cut 0 "), "the ladder never cut the call short: " + out);
    }

    /** Child JVM: a stack-overflow ladder over release(), then a check of each cut-short attempt at a normal depth. */
    public static final class Probe
    {
        private static final int SLOTS = 64;
        private static final int VARIANTS = 16;

        private static ThreadLakes[] lakes;
        private static int next;
        private static boolean[] cut;

        private static int violations;
        private static int currentViolations;
        private static int cuts;
        private static int attempts;
        private static final List<String> details = new ArrayList<>();

        public static void main(final String[] args) throws InterruptedException
        {
            final int rounds = Integer.parseInt(args[1]);
            final int warm = Integer.parseInt(args[2]);
            // compiled runs: release(), current() and the pool's offer compiled first, as in a long-running service
            final ThreadLakes warmLakes = ThreadLakes.builder(4096).poolBound(4).build();
            for (int i = 0; i < warm; i++)
            {
                warmLakes.init().allocate(64);
                warmLakes.release();
            }
            warmLakes.close();
            for (int round = 0; round < rounds; round++)
            {
                final Thread runner = "lakethread".equals(args[0]) ? new LakeThread(Probe::run, "probe") :
                    new Thread(Probe::run, "probe");
                runner.start();
                runner.join();
            }
            System.out.println("probe current " + currentViolations + " violations " + violations + " cut " + cuts + " attempts " + attempts + " ");
            details.forEach(System.out::println);
        }

        private static void run()
        {
            for (int variant = -1; variant < VARIANTS; variant++)
            {
                lakes = new ThreadLakes[SLOTS];
                for (int i = 0; i < SLOTS; i++)
                {
                    lakes[i] = ThreadLakes.builder(4096).poolBound(4).build();
                    final Lake lake = lakes[i].init();
                    lake.allocate(64);
                    lake.mark();
                }
                next = 0;
                cut = new boolean[SLOTS];
                if (variant < 0)
                {
                    climb(); // warm: every class and call site loaded at a normal depth
                }
                else
                {
                    padSmall(VARIANTS - variant, variant);
                }
                attempts += next;
                for (int i = 0; i < next; i++)
                {
                    if (cut[i])
                    {
                        cuts++;
                    }
                    final String bad = check(lakes[i]);
                    if (bad != null)
                    {
                        violations++;
                        if (bad.startsWith("current()"))
                        {
                            currentViolations++;
                        }
                        if (details.size() < 5)
                        {
                            details.add("variant " + variant + " slot " + i + " cut " + cut[i] + ": " + bad);
                        }
                    }
                }
                for (final ThreadLakes t : lakes)
                {
                    t.release();
                    t.close();
                }
            }
        }

        /**
         * Before any retry: the thread either still holds its lake (not given back) or holds none. Then the retry at a
         * normal depth, and the accounting: every lake built is pooled or closed, none leased, none lost.
         */
        private static String check(final ThreadLakes t)
        {
            String bad = null;
            final String before = t.stats().toString();
            Lake mine = null;
            try
            {
                mine = t.current();
            }
            catch (final IllegalStateException none)
            {
                // released
            }
            if (mine != null)
            {
                final ThreadLakes.Stats stats = t.stats();
                final AtomicReference<Lake> other = new AtomicReference<>();
                final Thread thief = new Thread(() -> other.set(t.init())); // no release: reaped below
                thief.start();
                try
                {
                    thief.join();
                }
                catch (final InterruptedException e)
                {
                    throw new AssertionError(e);
                }
                if (other.get() == mine)
                {
                    bad = "current() still returns the lake it gave back, now another thread's too: " + stats;
                }
                else if (stats.pooled() != 0)
                {
                    bad = "current() returns a lake while it is pooled: " + stats;
                }
            }
            t.release(); // the retry
            final String retried = t.stats().toString();
            t.init();
            t.release();
            t.reap();
            final ThreadLakes.Stats stats = t.stats();
            if (bad == null && (stats.leased() != 0 || stats.created() != stats.pooled() + stats.closed()))
            {
                bad = "a lake lost or doubled: " + stats + " entries " + entries(t) + " (before " + before + ", mine " + (mine != null) + ", after the retry " + retried + ")";
            }
            return bad;
        }

        private static String entries(final ThreadLakes t)
        {
            try
            {
                final java.lang.reflect.Field f = ThreadLakes.class.getDeclaredField("leases");
                f.setAccessible(true);
                int n = 0;
                final StringBuilder returned = new StringBuilder();
                for (final Object lease : (Iterable<?>)f.get(t))
                {
                    n++;
                    final java.lang.reflect.Field r = lease.getClass().getDeclaredField("returned");
                    r.setAccessible(true);
                    returned.append(r.get(lease)).append(' ');
                }
                return n + " returned [" + returned + "]";
            }
            catch (final ReflectiveOperationException e)
            {
                return e.toString();
            }
        }

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

        private static void climb()
        {
            final int slot = next;
            if (slot >= SLOTS)
            {
                return;
            }
            next = slot + 1;
            cut[slot] = true;
            lakes[slot].release();
            cut[slot] = false;
        }
    }
}
