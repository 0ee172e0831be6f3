package dev.lake.linear;

/**
 * The work of {@link Arena#withTransaction(TransactionBody)}: may throw a checked exception of its own type.
 * A non-capturing lambda is one shared constant, so running it allocates nothing.
 *
 * @param <T> the result type.
 * @param <E> the checked exception the body may throw ({@link RuntimeException} when none).
 */
@FunctionalInterface
public interface TransactionBody<T, E extends Exception>
{
    /**
     * @param tx the open transaction.
     * @return the result.
     * @throws E when the work fails; the transaction is rolled back (or committed, for the infallible form).
     */
    T run(Transaction tx) throws E;
}
