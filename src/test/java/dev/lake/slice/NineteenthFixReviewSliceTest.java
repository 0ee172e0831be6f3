package dev.lake.slice;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Review of the nineteenth round's slice fix: the bound-by-initializer refusal moved into finish() (localReader). */
class NineteenthFixReviewSliceTest extends NativeBaselineTest
{
    /**
     * allocateLocalLongs' Javadoc: "@throws IllegalStateException if reader is bound (nothing is allocated)"; the
     * refusal "bound by the initializer" (NineteenthReviewSliceTest). finish() now reads the reader from a field,
     * localReader, which every allocateLocal* call sets before its re-entry guard refuses it: an initializer that binds
     * the reader and then makes a (refused, caught) local allocation on the same allocator with another, unbound
     * reader leaves that other reader in the field. finish() checks it, passes, and local() binds the already bound
     * reader over its binding: the count its bind() took on the other slice is lost (a leaked slice, its chunk never
     * freed), and the call returns normally. The code before the fix checked the parameter in local() and refused.
     */
    @Test
    void aLocalAllocationWhoseInitializerBoundTheReaderIsRefusedAlsoAfterANestedRefusedCall()
    {
        final SliceAllocator alloc = longs(64);
        final SliceAllocator other = longs(64);
        final long ref = other.allocateLongsRef(2, i -> 60 + i);
        final SliceReader r = new SliceReader();
        final SliceReader spare = new SliceReader();
        try
        {
            final IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> alloc.allocateLocalLongs(4, i ->
                {
                    if (i == 0)
                    {
                        r.bind(other, ref);
                        try
                        {
                            alloc.allocateLocalLongs(1, j -> 0, spare); // re-entry: refused, but sets localReader
                        }
                        catch (final IllegalStateException reentry)
                        {
                            // refused, as documented
                        }
                    }
                    return i;
                }, r));
            assertTrue(refused.getMessage().contains("bound by the initializer"), refused.getMessage());
            assertEquals(61, r.getLong(1), "the reader still reads the slice the initializer bound it to");
        }
        finally
        {
            if (r.isBound())
            {
                r.close();
            }
            other.release(ref);
            alloc.close();
            other.close();
        }
    }
}
