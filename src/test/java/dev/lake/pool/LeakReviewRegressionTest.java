package dev.lake.pool;

import jdk.jfr.FlightRecorder;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Regression tests from the hostile review of the leak safety net and the JFR metrics events: each failed before
 * its fix.
 */
class LeakReviewRegressionTest
{
    /**
     * An arena built with {@code jfrEvents(true)} and dropped without {@code close()}: the safety net frees its
     * region, but its periodic hook stayed registered with the Flight Recorder for the life of the JVM (one hook
     * per leaked arena, never collected, and one more call per period while a recording runs). The hook is weakly
     * reachable from the test only, so it is collected exactly when the Flight Recorder let go of it.
     */
    @Test
    void aLeakedFixedArenaTakesItsJfrHookWithIt() throws Exception
    {
        final WeakReference<?>[] refs = leakFixed();
        awaitCollected(refs[0], "the leaked arena");
        awaitCollected(refs[1], "the leaked arena's JFR hook (still registered with the Flight Recorder)");
    }

    @Test
    void aLeakedBuddyArenaTakesItsJfrHookWithIt() throws Exception
    {
        final WeakReference<?>[] refs = leakBuddy();
        awaitCollected(refs[0], "the leaked arena");
        awaitCollected(refs[1], "the leaked arena's JFR hook (still registered with the Flight Recorder)");
    }

    @Test
    void closeStillRemovesTheJfrHook() throws Exception
    {
        final FixedArena fixed = FixedArena.builder(4, 64).name("jfr-closed").jfrEvents(true).build();
        final Runnable fixedHook = registeredHook(fixed);
        fixed.close();
        assertFalse(FlightRecorder.removePeriodicEvent(fixedHook), "close() removes the hook");
        final BuddyArena buddy = BuddyArena.builder(1024, 64).name("jfr-closed-buddy").jfrEvents(true).build();
        final Runnable buddyHook = registeredHook(buddy);
        buddy.close();
        assertFalse(FlightRecorder.removePeriodicEvent(buddyHook), "close() removes the hook");
    }

    private static WeakReference<?>[] leakFixed() throws Exception
    {
        final FixedArena arena = FixedArena.builder(4, 64).name("jfr-leaked").jfrEvents(true).build();
        final Runnable hook = registeredHook(arena);
        assertRegistered(FixedArenaMetricsEvent.class, hook);
        return new WeakReference<?>[] {new WeakReference<>(arena), new WeakReference<>(hook)};
    }

    private static WeakReference<?>[] leakBuddy() throws Exception
    {
        final BuddyArena arena = BuddyArena.builder(1024, 64).name("jfr-leaked-buddy").jfrEvents(true).build();
        final Runnable hook = registeredHook(arena);
        assertRegistered(BuddyArenaMetricsEvent.class, hook);
        return new WeakReference<?>[] {new WeakReference<>(arena), new WeakReference<>(hook)};
    }

    /** Checks the hook is registered (removing it says so) and puts it back. */
    private static void assertRegistered(final Class<? extends jdk.jfr.Event> type, final Runnable hook)
    {
        assertTrue(FlightRecorder.removePeriodicEvent(hook), "the arena registered its hook");
        FlightRecorder.addPeriodicEvent(type, hook);
    }

    /** The Runnable the arena handed to {@link FlightRecorder#addPeriodicEvent}, found by its type. */
    private static Runnable registeredHook(final Object arena) throws Exception
    {
        for (final Field field : arena.getClass().getDeclaredFields())
        {
            field.setAccessible(true);
            final Object value = field.get(arena);
            if (value instanceof JfrRegistration)
            {
                return ((JfrRegistration)value).hook;
            }
            if (value != null && value.getClass().getSimpleName().equals("JfrHook"))
            {
                return (Runnable)value;
            }
        }
        throw new AssertionError("no JfrHook field in " + arena.getClass());
    }

    private static void awaitCollected(final WeakReference<?> weak, final String what)
    {
        await(what + " is collected").atMost(Duration.ofSeconds(10)).until(() ->
        {
            System.gc();
            return weak.get() == null;
        });
    }
}
