package dev.lake.memory;

import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * Makes {@link ByteBuffer} views over Lake memory without JNI: duplicates a template direct buffer (so the
 * JDK builds a well-formed {@code DirectByteBuffer}) and points the copy at our address. The view's
 * attachment is the owner, so a reachable view keeps its memory reachable.
 *
 * <p>The template is made at the first view, not when the class loads: a class whose initializer threw is failed for
 * good, so a template refused once (the JDK's direct memory spent, or its malloc refused) made every later view of
 * every region throw {@link NoClassDefFoundError}, long after the memory was back.
 */
final class DirectViews
{
    private static volatile ByteBuffer template;
    private static final long ADDRESS;
    private static final long CAPACITY;
    private static final long LIMIT;
    private static final long POSITION;
    private static final long ATTACHMENT;
    private static final String UNSUPPORTED;

    static
    {
        long address = -1;
        long capacity = -1;
        long limit = -1;
        long position = -1;
        long attachment = -1;
        String unsupported = null;
        try
        {
            Memory.ensureAvailable();
            address = Memory.fieldOffset(Buffer.class, "address");
            capacity = Memory.fieldOffset(Buffer.class, "capacity");
            limit = Memory.fieldOffset(Buffer.class, "limit");
            position = Memory.fieldOffset(Buffer.class, "position");
            attachment = Memory.fieldOffset(Class.forName("java.nio.DirectByteBuffer"), "att");
        }
        catch (final ReflectiveOperationException | RuntimeException | Error ex)
        {
            unsupported = "ByteBuffer views are not supported on this JDK: " + ex;
        }
        ADDRESS = address;
        CAPACITY = capacity;
        LIMIT = limit;
        POSITION = position;
        ATTACHMENT = attachment;
        UNSUPPORTED = unsupported;
    }

    private DirectViews()
    {
    }

    static ByteBuffer view(final long address, final int size, final Object owner)
    {
        if (UNSUPPORTED != null)
        {
            throw new UnsupportedOperationException(UNSUPPORTED);
        }
        ByteBuffer source = template;
        if (source == null)
        {
            // threads racing the first view may each make one: any of them serves, the others go to the GC. Capacity 0:
            // the JDK then counts nothing against -XX:MaxDirectMemorySize (it mallocs one byte), so a view is made at
            // once with the direct memory spent; with capacity 1 the JDK collected and slept about half a second before
            // refusing, on every call, and a caller's wrap of a Lake buffer (which makes the view) is a hot path
            source = ByteBuffer.allocateDirect(0);
            template = source;
        }
        final ByteBuffer view = source.duplicate();
        Memory.putLongField(view, ADDRESS, address);
        Memory.putIntField(view, CAPACITY, size);
        Memory.putIntField(view, LIMIT, size);
        Memory.putReferenceField(view, ATTACHMENT, owner);
        Memory.storeFence();
        return view;
    }

    static void invalidate(final ByteBuffer view)
    {
        view.clear();
        Memory.putIntField(view, POSITION, 0);
        Memory.putIntField(view, LIMIT, 0);
        Memory.putIntField(view, CAPACITY, 0);
        Memory.putLongField(view, ADDRESS, 0);
        Memory.storeFence();
    }
}
