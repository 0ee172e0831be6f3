package dev.lake.slice;

/**
 * Computes the value of each element of a {@code double} slice from its index. A non-capturing lambda or method
 * reference is one shared constant, so initializing allocates nothing.
 */
@FunctionalInterface
public interface DoubleInit
{
    /**
     * @param index the element's index, 0 to length - 1, called in ascending order.
     * @return the element's value.
     */
    double value(int index);
}
