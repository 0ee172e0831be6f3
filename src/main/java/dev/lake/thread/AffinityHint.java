package dev.lake.thread;

import java.util.BitSet;

/**
 * Where a thread that takes a thread-local lake would like to run. Applied by {@link ThreadLakes} on the
 * taking thread, before the lake is first touched, so that on a NUMA machine its pages land on that
 * thread's node.
 *
 * <p>A hint is a hint: one that cannot be honoured (no affinity library on the class path, a CPU that does
 * not exist, an operating system that refuses, a virtual thread) is logged once per hint and ignored, never an
 * error.
 *
 * <p>Virtual threads (JDK 21+): the pinning hints ({@link #cpu(int)}, {@link #anyOf(BitSet, String)}) are never
 * honoured on a virtual thread and touch no operating-system thread: the thread the operating system would pin is
 * the virtual thread's carrier, which runs other virtual threads too and which this one leaves at its next
 * blocking call. A custom hint is user code and runs on the virtual thread as it is.
 */
@FunctionalInterface
public interface AffinityHint
{
    /**
     * Applies the hint to the calling thread.
     *
     * @return whether it was honoured ({@code false} for a pinning hint on a virtual thread, which pins nothing).
     */
    boolean applyToCurrentThread();

    /**
     * @return the default hint: leave the thread where the scheduler puts it.
     */
    static AffinityHint none()
    {
        return () -> true;
    }

    /**
     * Pins the thread to one CPU, through OpenHFT's Java-Thread-Affinity when it is on the class path; not on a
     * virtual thread (not honoured there, see above).
     *
     * @param cpu the CPU index.
     * @return the hint.
     * @throws IllegalArgumentException if {@code cpu} is negative.
     */
    static AffinityHint cpu(final int cpu)
    {
        if (cpu < 0)
        {
            throw new IllegalArgumentException("cpu must not be negative: " + cpu);
        }
        final BitSet cpus = new BitSet();
        cpus.set(cpu);
        return new PinningHint(cpus, "cpu " + cpu);
    }

    /**
     * Lets the thread run on any of a set of CPUs (for example the CPUs of one NUMA node), through OpenHFT's
     * Java-Thread-Affinity when it is on the class path; not on a virtual thread (not honoured there, see above).
     *
     * @param cpus the allowed CPUs; copied.
     * @param name what the set is, for logs (for example {@code "node 1"}).
     * @return the hint.
     * @throws IllegalArgumentException if {@code cpus} is empty.
     */
    static AffinityHint anyOf(final BitSet cpus, final String name)
    {
        if (cpus.isEmpty())
        {
            throw new IllegalArgumentException("an affinity hint needs at least one CPU: " + name);
        }
        return new PinningHint((BitSet)cpus.clone(), name);
    }
}
