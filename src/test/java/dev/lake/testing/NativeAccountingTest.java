package dev.lake.testing;

import dev.lake.memory.Region;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The guard catches what it must (memory kept, a leak of the test's own) and lets an earlier test's leak pass. */
class NativeAccountingTest
{
    private static final Duration SHORT = Duration.ofMillis(500);

    @Test
    void memoryNotGivenBackFails()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final Region kept = Region.allocate(4_111);
        try
        {
            assertThrows(AssertionFailedError.class, () -> baseline.assertBack("kept", SHORT));
        }
        finally
        {
            kept.close();
        }
        baseline.assertBack("closed");
    }

    @Test
    void aLeakOfTheTestsOwnFailsThoughItsBytesCameBack()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final long reports = NativeAccounting.reportsNaming("Region[4113 B");
        Region.allocate(4_113); // dropped: this test's own leak
        awaitReclaimed("Region[4113 B", reports);
        await().atMost(Duration.ofSeconds(10)).until(() -> NativeAccounting.reservedBackTo(baseline.reserved()));
        assertThrows(Exception.class, () -> baseline.assertBack("own leak", SHORT)); // Awaitility's timeout
    }

    @Test
    void anEarlierTestsLeakFreedMeanwhilePasses()
    {
        final long reports = NativeAccounting.reportsNaming("Region[4117 B");
        Region.allocate(4_117); // dropped before the baseline: another test's leak
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        awaitReclaimed("Region[4117 B", reports);
        baseline.assertBack("another test's leak");
    }

    private static void awaitReclaimed(final String what, final long reportsBefore)
    {
        await().atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return NativeAccounting.reportsNaming(what) > reportsBefore;
        });
    }
}
