package dev.lake.reliability;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/**
 * Sets the number of tries (random operation sequences) of every model property from the system property
 * {@code lake.model.tries}, so that CI runs a short, fixed budget and the full run is one flag away:
 * {@code mvn -B verify -Dtest='dev.lake.reliability.**' -Dlake.model.tries=10000}.
 */
public final class ModelTries implements AroundPropertyHook
{
    /** Sequences per allocator when {@code lake.model.tries} is not set: what CI runs (about 2 s each on 2 cores). */
    public static final int DEFAULT_TRIES = 1000;

    /**
     * @return the number of sequences to run per property.
     */
    public static int tries()
    {
        return Integer.getInteger("lake.model.tries", DEFAULT_TRIES);
    }

    private static final java.util.concurrent.atomic.LongAdder SEQUENCES = new java.util.concurrent.atomic.LongAdder();
    private static final java.util.concurrent.atomic.LongAdder STEPS = new java.util.concurrent.atomic.LongAdder();

    /**
     * Counts one sequence that ran to its end (shrinking attempts included), for the report.
     *
     * @param steps operations in it.
     */
    public static void count(final int steps)
    {
        SEQUENCES.increment();
        STEPS.add(steps);
    }

    /**
     * Prints how many sequences and operations a test class ran, then starts counting afresh.
     *
     * @param what the test class.
     */
    public static void report(final String what)
    {
        System.out.printf(java.util.Locale.ROOT, "%s: %,d sequences, %,d operations checked against the model%n",
            what, SEQUENCES.sumThenReset(), STEPS.sumThenReset());
    }

    @Override
    public PropertyExecutionResult aroundProperty(final PropertyLifecycleContext context, final PropertyExecutor property)
    {
        context.attributes().setTries(tries());
        return property.execute();
    }

    @Override
    public PropagationMode propagateTo()
    {
        return PropagationMode.ALL_DESCENDANTS; // added on a test class, it applies to every property in it
    }

    @Override
    public int aroundPropertyProximity()
    {
        return -100; // outermost: before jqwik reads the attributes
    }
}
