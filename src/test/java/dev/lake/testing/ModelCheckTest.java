package dev.lake.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The checker itself: it finds a planted bug, shrinks the sequence to its essence, and passes correct code. */
class ModelCheckTest
{
    /** A counter with a planted bug: the third increment after a reset is lost. */
    static final class BuggyCounter implements AutoCloseable
    {
        int value;
        int model;
        int sinceReset;

        void increment()
        {
            model++;
            if (++sinceReset != 3)
            {
                value++;
            }
            if (value != model)
            {
                throw new IllegalStateException("counter " + value + " != model " + model);
            }
        }

        void reset()
        {
            value = 0;
            model = 0;
            sinceReset = 0;
        }

        @Override
        public void close()
        {
        }
    }

    @Test
    void findsAndShrinksAPlantedBug()
    {
        final AssertionError error = assertThrows(AssertionError.class, () -> ModelCheck.run(
            "buggy counter", 200, 40, BuggyCounter::new,
            (random, i) -> random.nextInt(4) == 0 ? named("reset", BuggyCounter::reset) : named("increment", BuggyCounter::increment)));
        final String report = error.getMessage();
        assertTrue(report.contains("shrunk from"), report);
        assertTrue(report.contains("1. increment") && report.contains("3. increment") && !report.contains("4."),
            "the minimal failing sequence is three increments:\n" + report);
        assertTrue(report.contains("-Dlake.model.seed="), report);
    }

    @Test
    void passesCorrectCodeAndCountsSteps()
    {
        final long steps = ModelCheck.run("correct counter", 50, 20, BuggyCounter::new,
            (random, i) -> named("reset", BuggyCounter::reset));
        assertTrue(steps >= 50 && steps <= 50 * 20, "steps: " + steps);
    }

    private static ModelCheck.Step<BuggyCounter> named(final String name, final java.util.function.Consumer<BuggyCounter> action)
    {
        return new ModelCheck.Step<>()
        {
            @Override
            public void apply(final BuggyCounter session)
            {
                action.accept(session);
            }

            @Override
            public String toString()
            {
                return name;
            }
        };
    }
}
