package dev.lake.thread;

import dev.lake.memory.LakeLog;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An {@link AffinityHint} backed by OpenHFT's Java-Thread-Affinity, an optional dependency: used only when it
 * is on the class path, otherwise the hint logs once that it cannot be honoured. Never honoured on a virtual
 * thread (JDK 21+): the operating-system thread under it is its carrier, not its own.
 */
final class PinningHint implements AffinityHint
{
    private static final boolean OPENHFT_PRESENT = isPresent("net.openhft.affinity.Affinity");
    /** {@code Thread.isVirtual()} on JDK 21+; null before (compiled for release 17: no virtual threads there). */
    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

    private final BitSet cpus;
    private final String name;
    private final AtomicBoolean warned = new AtomicBoolean();

    PinningHint(final BitSet cpus, final String name)
    {
        this.cpus = cpus;
        this.name = name;
    }

    @Override
    public boolean applyToCurrentThread()
    {
        if (isVirtual(Thread.currentThread()))
        {
            // OpenHFT pins the operating-system thread that makes the call: a virtual thread's carrier, which runs
            // other virtual threads too (pinned, they all would be) and which this one leaves at its next blocking call
            warnOnce(" ignored: the calling thread is virtual, and pinning it would pin its carrier thread", null);
            return false;
        }
        if (!OPENHFT_PRESENT)
        {
            warnOnce(" ignored: net.openhft:affinity is not on the class path", null);
            return false;
        }
        try
        {
            // no pre-check against availableProcessors(): under a cpuset (CPUs 8-15, say) valid ids exceed it;
            // the operating system's own answer, read back, is the truth
            final BitSet before = OpenHft.affinity();
            OpenHft.pin(cpus);
            if (OpenHft.affinity().equals(cpus))
            {
                return true;
            }
            // Not what was asked (the OS applies the set's intersection with the CPUs it has: {1, 200} on two CPUs
            // pins to 1): "ignored" must mean the thread stays where it was, not half pinned
            OpenHft.pin(before);
            warnOnce(" ignored: the operating system did not apply it", null);
            return false;
        }
        catch (final RuntimeException | LinkageError ex)
        {
            warnOnce(" ignored: the affinity library refused", ex);
            return false;
        }
    }

    /** Logs {@code "affinity hint <name>" + tail} the first time a hint is not applied; never throws. */
    private void warnOnce(final String tail, final Throwable cause)
    {
        if (warned.compareAndSet(false, true))
        {
            // a hint that cannot be honoured is never an error, whatever the logging backend throws: it would fail
            // the caller's ThreadLakes.init() instead of handing out its lake
            try
            {
                LakeLog.log(System.Logger.Level.WARNING, "affinity hint ", name, tail, cause);
            }
            catch (final Throwable unreached)
            {
                // LakeLog's first call in the JVM, refused by a full heap (see LakeLog.log)
            }
        }
    }

    private static MethodHandle isVirtualHandle()
    {
        try
        {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual",
                MethodType.methodType(boolean.class));
        }
        catch (final ReflectiveOperationException ex)
        {
            return null; // before JDK 21 every thread is a platform thread
        }
    }

    /** Whether {@code thread} is a virtual thread: never before JDK 21. */
    static boolean isVirtual(final Thread thread)
    {
        if (IS_VIRTUAL == null)
        {
            return false;
        }
        try
        {
            return (boolean)IS_VIRTUAL.invokeExact(thread);
        }
        catch (final Throwable unexpected)
        {
            return false; // Thread.isVirtual() throws nothing
        }
    }

    private static boolean isPresent(final String className)
    {
        try
        {
            Class.forName(className, false, PinningHint.class.getClassLoader());
            return true;
        }
        catch (final ClassNotFoundException | LinkageError ex)
        {
            return false;
        }
    }

    @Override
    public String toString()
    {
        return "AffinityHint[" + name + "]";
    }

    /** The only class that links against OpenHFT: loaded only when the library is present. */
    private static final class OpenHft
    {
        static void pin(final BitSet cpus)
        {
            net.openhft.affinity.Affinity.setAffinity(cpus);
        }

        static BitSet affinity()
        {
            return net.openhft.affinity.Affinity.getAffinity();
        }
    }
}
