package dev.lake.reliability;

import java.util.Locale;

/**
 * How many random operation sequences each model test runs: {@code -Dlake.model.tries=N}, so that CI runs a short,
 * fixed budget and the full run is one flag away:
 * {@code mvn -B verify -Dtest='dev.lake.reliability.**' -Dlake.model.tries=10000}.
 */
final class ModelTries
{
    /** Sequences per allocator when {@code lake.model.tries} is not set: what CI runs (seconds on 2 cores). */
    static final int DEFAULT_TRIES = 1000;

    private ModelTries()
    {
    }

    /**
     * @return the number of sequences to run per model test.
     */
    static int tries()
    {
        return Integer.getInteger("lake.model.tries", DEFAULT_TRIES);
    }

    /**
     * Prints how many sequences and operations a model test checked.
     *
     * @param what      the test.
     * @param sequences sequences run.
     * @param steps     operations in them.
     */
    static void report(final String what, final long sequences, final long steps)
    {
        System.out.printf(Locale.ROOT, "%s: %,d sequences, %,d operations checked against the model%n",
            what, sequences, steps);
    }
}
