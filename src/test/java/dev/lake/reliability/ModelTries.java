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
    /** Sequences per allocator when {@code lake.model.tries} is not set: what CI runs (a few seconds each). */
    public static final int DEFAULT_TRIES = 200;

    /**
     * @return the number of sequences to run per property.
     */
    public static int tries()
    {
        return Integer.getInteger("lake.model.tries", DEFAULT_TRIES);
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
