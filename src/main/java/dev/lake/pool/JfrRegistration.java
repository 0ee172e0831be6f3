package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;

import java.lang.ref.Cleaner;

/**
 * An arena's periodic JFR hook, registered for as long as the arena lives: removed by {@link #remove()} at close, or
 * by the safety net's cleaner when the arena became unreachable without close. The hook only weakly references its
 * arena, so without the cleaner the Flight Recorder kept the hook of every leaked arena for the life of the JVM (and
 * called it every period while a recording ran).
 */
final class JfrRegistration
{
    /** The hook the Flight Recorder calls. */
    final Runnable hook;
    private final Removal removal;
    private final Cleaner.Cleanable cleanable;

    /**
     * Registers {@code hook} for {@code type} until {@code arena} closes or becomes unreachable.
     *
     * @param arena the arena the hook reports on; referenced by neither the hook's removal nor this object.
     * @param type  the periodic event.
     * @param hook  what emits it; must not strongly reference {@code arena}.
     */
    JfrRegistration(final Object arena, final Class<? extends Event> type, final Runnable hook)
    {
        this.hook = hook;
        final Removal removal = new Removal(hook);
        this.removal = removal;
        FlightRecorder.addPeriodicEvent(type, hook);
        final Cleaner.Cleanable registered;
        try
        {
            registered = NativeMemory.cleaner().register(arena, removal);
        }
        catch (final Throwable t)
        {
            // a full heap refused the cleaner's entry: nothing would ever remove the hook, so take it back now
            FlightRecorder.removePeriodicEvent(hook);
            throw t;
        }
        this.cleanable = registered;
    }

    /**
     * Removes the hook now; at most once, whether close or the cleaner comes first. The recorder's removal allocates
     * on the heap (an iterator of its hook list): on a full heap it throws {@link OutOfMemoryError} with the hook still
     * registered and this registration unchanged, so a later call tries again. Through the cleanable, that failure
     * was final: the cleanable unregisters itself before it runs its action.
     */
    void remove()
    {
        if (removal.done)
        {
            return;
        }
        FlightRecorder.removePeriodicEvent(hook);
        removal.done = true;
        cleanable.clean(); // leaves the cleaner's list (allocation-free); its action now does nothing
    }

    /** The cleaner's action: holds the hook, never the arena. */
    private static final class Removal implements Runnable
    {
        private final Runnable hook;
        /** Set once {@link #remove()} took the hook out itself. */
        volatile boolean done;

        Removal(final Runnable hook)
        {
            this.hook = hook;
        }

        @Override
        public void run()
        {
            if (!done)
            {
                FlightRecorder.removePeriodicEvent(hook);
            }
        }
    }
}
