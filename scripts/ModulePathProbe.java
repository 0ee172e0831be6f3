/**
 * Run by scripts/module-path-check.sh with the built jar on the module path: Lake must load as the named module
 * {@code dev.lake} (its Automatic-Module-Name), allocate and read back with Agrona as module {@code org.agrona}.
 */
public final class ModulePathProbe
{
    public static void main(final String[] args)
    {
        final Module module = dev.lake.linear.Lake.class.getModule();
        if (!"dev.lake".equals(module.getName()))
        {
            throw new AssertionError("Lake loaded as module " + module.getName() + ", not dev.lake");
        }
        try (dev.lake.linear.Lake lake = dev.lake.linear.Lake.builder(4096).build())
        {
            final int at = lake.allocate(64);
            lake.buffer().putLong(at, 42L);
            if (lake.buffer().getLong(at) != 42L)
            {
                throw new AssertionError("read back " + lake.buffer().getLong(at));
            }
        }
        System.out.println("module path: Lake is module dev.lake, allocates and reads back");
    }
}
