package dev.lake.pool;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Set;
import java.util.TreeSet;
import java.util.spi.ToolProvider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Keeps the promise of each pool class's {@code linkCallSites()}: every {@code VarHandle} access the class makes is
 * called once there, at build. The first call of a {@code VarHandle} call site in a JVM links it, which allocates on
 * the heap, so an access added later without joining {@code linkCallSites()} brings back the full-heap bugs of
 * {@code TenthFullHeapPoolTest} (a last release or close that throws past its point of no return) on whichever path
 * first runs it. Reads the compiled classes with the JDK's own {@code javap}: signature-polymorphic calls are linked
 * per name and descriptor of a class, so that is what is compared.
 */
class LinkedCallSitesTest
{
    @ParameterizedTest
    @ValueSource(strings = {"dev.lake.pool.SlotTable", "dev.lake.pool.FixedArena", "dev.lake.pool.BuddyArena"})
    void everyVarHandleAccessOfTheClassIsLinkedAtBuild(final String className)
    {
        final String code = javap(className);
        final Set<String> all = new TreeSet<>();
        final Set<String> linked = new TreeSet<>();
        String method = "";
        for (final String line : code.split("\n"))
        {
            if (line.startsWith("  ") && !line.startsWith("   ") && line.contains("("))
            {
                method = line.trim();
            }
            final int at = line.indexOf("Method java/lang/invoke/VarHandle.");
            if (at >= 0 && line.contains("invokevirtual"))
            {
                final String access = line.substring(at + "Method java/lang/invoke/VarHandle.".length()).trim();
                all.add(access);
                if (method.contains(" linkCallSites()"))
                {
                    linked.add(access);
                }
            }
        }
        assertFalse(all.isEmpty(), className + ": javap found no VarHandle access at all (parsing broke?)");
        final Set<String> missing = new TreeSet<>(all);
        missing.removeAll(linked);
        assertEquals(Set.of(), missing, className + ": VarHandle accesses not called in linkCallSites()");
    }

    private static String javap(final String className)
    {
        final ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow();
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int rc = javap.run(new PrintWriter(out), new PrintWriter(err), "-c", "-p", "-cp",
            System.getProperty("java.class.path"), className);
        assertEquals(0, rc, err.toString());
        return out.toString();
    }
}
