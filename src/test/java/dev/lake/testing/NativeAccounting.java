package dev.lake.testing;

import dev.lake.memory.NativeMemory;

/**
 * Reads {@link NativeMemory}'s global counts in a test that collects garbage to see its own leak reclaimed.
 * <p>
 * Those collections may also let the safety net free a leak that an earlier test left behind (a test class that
 * drops a region on purpose and never waits for it): that lowers {@code reservedBytes()} and {@code liveRegions()}
 * below the test's baseline for good, and adds to {@code leaks()}. An exact "back to the baseline" then waits
 * forever (a CI run lost that way). So a test waits for its counts to be back to at most the baseline, and reads an
 * exact leak count from the reports naming its own, uniquely sized, leak.
 */
public final class NativeAccounting
{
    private NativeAccounting()
    {
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
