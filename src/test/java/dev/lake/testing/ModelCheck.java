package dev.lake.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A small model-based property checker: runs random sequences of steps against a fresh session (the allocator
 * under test beside a simple reference model), and when a sequence fails, shrinks it (delta debugging: drop
 * chunks of steps, then single steps, keep any smaller sequence that still fails) and reports the shortest
 * failing sequence with the seed that reproduces it.
 *
 * <p>Steps must be replayable on their own: a step that refers to an earlier allocation names it by an index
 * taken modulo the live ones (and does nothing when there are none), so removing steps while shrinking never
 * makes a sequence invalid, only different.
 *
 * <p>How many sequences run: {@code -Dlake.model.tries=N} (default: the caller's CI-sized count); which seed:
 * {@code -Dlake.model.seed=S} (default: random, printed on failure).
 */
public final class ModelCheck
{
    private ModelCheck()
    {
    }

    /**
     * One step of a sequence, applied to a session; its {@code toString()} is what a failure report prints.
     *
     * @param <S> the session type.
     */
    @FunctionalInterface
    public interface Step<S>
    {
        /**
         * @param session the allocator under test and its model.
         * @throws Exception when the allocator disagrees with the model or fails.
         */
        void apply(S session) throws Exception;
    }

    /**
     * @param defaultTries sequences to run when {@code -Dlake.model.tries} is not set.
     * @return the number of sequences to run.
     */
    public static int tries(final int defaultTries)
    {
        return Integer.getInteger("lake.model.tries", defaultTries);
    }

    /**
     * Runs {@code tries} random sequences of up to {@code maxSteps} steps.
     *
     * @param name         what is checked, for the report.
     * @param tries        how many sequences.
     * @param maxSteps     longest sequence.
     * @param sessions     makes a fresh session (closed after each sequence).
     * @param steps        makes a random step from a random source and the step's position in the sequence.
     * @param <S>          the session type.
     * @return how many steps ran in all.
     * @throws AssertionError naming the seed and the shrunk failing sequence.
     */
    public static <S extends AutoCloseable> long run(
        final String name, final int tries, final int maxSteps, final Supplier<S> sessions,
        final BiFunction<SplittableRandom, Integer, Step<S>> steps)
    {
        final long seed = Long.getLong("lake.model.seed", new SplittableRandom().nextLong());
        final SplittableRandom random = new SplittableRandom(seed);
        long total = 0;
        for (int t = 0; t < tries; t++)
        {
            final int length = 1 + random.nextInt(maxSteps);
            final List<Step<S>> sequence = new ArrayList<>(length);
            for (int i = 0; i < length; i++)
            {
                sequence.add(steps.apply(random, i));
            }
            total += length;
            final Throwable failure = replay(sessions, sequence);
            if (failure != null)
            {
                final List<Step<S>> shrunk = shrink(sessions, sequence);
                final Throwable cause = replay(sessions, shrunk);
                final StringBuilder report = new StringBuilder()
                    .append(name).append(": sequence ").append(t + 1).append(" of ").append(tries)
                    .append(" failed (-Dlake.model.seed=").append(seed).append("), shrunk from ")
                    .append(sequence.size()).append(" to ").append(shrunk.size()).append(" steps:\n");
                for (int i = 0; i < shrunk.size(); i++)
                {
                    report.append("  ").append(i + 1).append(". ").append(shrunk.get(i)).append('\n');
                }
                report.append("failure: ").append(cause);
                throw new AssertionError(report.toString(), cause);
            }
        }
        return total;
    }

    private static <S extends AutoCloseable> Throwable replay(final Supplier<S> sessions, final List<Step<S>> sequence)
    {
        try (S session = sessions.get())
        {
            for (final Step<S> step : sequence)
            {
                step.apply(session);
            }
            return null;
        }
        catch (final Throwable t)
        {
            return t;
        }
    }

    private static <S extends AutoCloseable> List<Step<S>> shrink(final Supplier<S> sessions, final List<Step<S>> failing)
    {
        List<Step<S>> current = failing;
        int chunk = Math.max(1, current.size() / 2);
        while (true)
        {
            boolean reduced = false;
            for (int from = 0; from < current.size() && current.size() > 1; )
            {
                final List<Step<S>> candidate = new ArrayList<>(current.subList(0, from));
                candidate.addAll(current.subList(Math.min(current.size(), from + chunk), current.size()));
                if (!candidate.isEmpty() && replay(sessions, candidate) != null)
                {
                    current = candidate;
                    reduced = true;
                }
                else
                {
                    from += chunk;
                }
            }
            if (chunk == 1 && !reduced)
            {
                return current;
            }
            chunk = Math.max(1, reduced ? chunk : chunk / 2);
        }
    }

    /**
     * A named step: {@code body}, then {@code invariant}, on the session; prints as {@code description}.
     *
     * @param description what the step does, for the report.
     * @param body        the operation (on the allocator and its model).
     * @param invariant   the check after it.
     * @param <S>         the session type.
     * @return the step.
     */
    public static <S> Step<S> step(final String description, final Body<S> body, final Body<S> invariant)
    {
        return new Step<>()
        {
            @Override
            public void apply(final S session) throws Exception
            {
                body.accept(session);
                invariant.accept(session);
            }

            @Override
            public String toString()
            {
                return description;
            }
        };
    }

    /**
     * @param random the source.
     * @param from   smallest value.
     * @param to     largest value, inclusive.
     * @return a uniform int in {@code [from, to]}.
     */
    public static int between(final SplittableRandom random, final int from, final int to)
    {
        return from + random.nextInt(to - from + 1);
    }

    /**
     * An operation on a session that may throw.
     *
     * @param <S> the session type.
     */
    @FunctionalInterface
    public interface Body<S>
    {
        /**
         * @param session the session.
         * @throws Exception when something disagrees.
         */
        void accept(S session) throws Exception;
    }

    /**
     * Weighted choice of the next step: {@code new Menu<S>().add(4, r -> ...).add(1, r -> ...)}.
     *
     * @param <S> the session type.
     */
    public static final class Menu<S> implements BiFunction<SplittableRandom, Integer, Step<S>>
    {
        private final List<Integer> weights = new ArrayList<>();
        private final List<Function<SplittableRandom, Step<S>>> makers = new ArrayList<>();
        private int total;

        /**
         * @param weight how often, relative to the other entries.
         * @param maker  makes the step from the random source.
         * @return this menu.
         */
        public Menu<S> add(final int weight, final Function<SplittableRandom, Step<S>> maker)
        {
            weights.add(weight);
            makers.add(maker);
            total += weight;
            return this;
        }

        @Override
        public Step<S> apply(final SplittableRandom random, final Integer position)
        {
            int pick = random.nextInt(total);
            for (int i = 0; i < weights.size(); i++)
            {
                pick -= weights.get(i);
                if (pick < 0)
                {
                    return makers.get(i).apply(random);
                }
            }
            throw new IllegalStateException("unreachable");
        }
    }
}
