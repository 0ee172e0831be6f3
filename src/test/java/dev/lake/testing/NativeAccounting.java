package dev.lake.testing;

import dev.lake.memory.NativeMemory;
import org.awaitility.Awaitility;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Reads {@link NativeMemory}'s global counts in a test that collects garbage to see its own leak reclaimed.
 * <p>
 * Those collections may also let the safety net free a leak that an earlier test left behind (a test class that
 * drops a region on purpose and never waits for it): that lowers {@code reservedBytes()} and {@code liveRegions()}
 * below the test's baseline for good, and adds to {@code leaks()}. An exact "back to the baseline" then waits
 * forever (a CI run lost that way). So a test waits for its counts to be back to at most the baseline, and reads an
 * exact leak count from the reports naming its own, uniquely sized, leak. A test that must give back exactly what
 * it took checks a {@link Baseline}.
 */
public final class NativeAccounting
{
    private NativeAccounting()
    {
    }

    /**
     * The global counts before a test built anything, to check that it gave every byte and region back, exactly
     * once, and leaked nothing.
     *
     * @param leaks    {@link NativeMemory#leaks()}.
     * @param reserved {@link NativeMemory#reservedBytes()}.
     * @param regions  {@link NativeMemory#liveRegions()}.
     */
    public record Baseline(long leaks, long reserved, long regions)
    {
        /**
         * Leaks first: the safety net counts a leak before it frees the leak's bytes, so a free that lands between
         * the reads is seen as counted.
         *
         * @return the counts now.
         */
        public static Baseline take()
        {
            final long leaks = NativeMemory.leaks();
            return new Baseline(leaks, NativeMemory.reservedBytes(), NativeMemory.liveRegions());
        }

        /**
         * With no leak counted since {@link #take()}: the bytes and regions are exactly back (a double free shows
         * as fewer). With a leak counted: it must be another test's, freed under this one, so the bytes go below the
         * baseline (the count comes just before the free: waited for, up to 10 s); this test's own leak, reclaimed,
         * would leave them at it.
         *
         * @param what what the test checks, for the failure message.
         */
        public void assertBack(final String what)
        {
            assertBack(what, Duration.ofSeconds(10));
        }

        void assertBack(final String what, final Duration wait)
        {
            final long reservedNow = NativeMemory.reservedBytes(); // bytes, then leaks: the reverse of take()
            final long regionsNow = NativeMemory.liveRegions();
            if (NativeMemory.leaks() == leaks)
            {
                assertEquals(reserved, reservedNow, what + ": native bytes");
                assertEquals(regions, regionsNow, what + ": live regions");
                return;
            }
            Awaitility.await(what + ": a leak was counted, and no earlier test's memory freed explains it")
                .atMost(wait)
                .until(() -> NativeMemory.reservedBytes() < reserved && NativeMemory.liveRegions() <= regions);
        }
    }

    /**
     * @param baseline {@link NativeMemory#reservedBytes()} before the test reserved anything.
     * @return whether every native byte the test reserved since is back (another test's leak freed meanwhile can
     *         only lower the count).
     */
    public static boolean reservedBackTo(final long baseline)
    {
        return NativeMemory.reservedBytes() <= baseline;
    }

    /**
     * @param baseline {@link NativeMemory#liveRegions()} before the test built anything.
     * @return whether every region the test built since is gone.
     */
    public static boolean regionsBackTo(final long baseline)
    {
        return NativeMemory.liveRegions() <= baseline;
    }

    /**
     * @param fragment text that only this test's leak has in its report (its unique size, say).
     * @return how many of the retained {@link NativeMemory#leakReports()} name it.
     */
    public static long reportsNaming(final String fragment)
    {
        return NativeMemory.leakReports().stream().filter(report -> report.what().contains(fragment)).count();
    }
}
