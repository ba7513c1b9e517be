using System.Runtime.InteropServices;

namespace IlgpuDiffusion.Files;

/// <summary>What a path names, as far as writing a file there is concerned.</summary>
internal enum FileKind
{
    /// <summary>Nothing is there.</summary>
    Missing,

    /// <summary>A regular file (or, where the kind cannot be told, any file that is not a folder).</summary>
    Regular,

    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A named pipe.</summary>
    Fifo,

    /// <summary>A character device such as <c>/dev/null</c>.</summary>
    CharacterDevice,

    /// <summary>A block device such as a disk.</summary>
    BlockDevice,

    /// <summary>A Unix domain socket.</summary>
    Socket,
}

/// <summary>
/// The <see cref="FileKind"/> of a path, symbolic links followed. .NET tells files from folders only, so on Linux the file type
/// comes from <c>statx</c> (a fixed layout on every architecture); elsewhere every file counts as regular.
/// </summary>
internal static partial class FileKinds
{
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint TypeField = 0x1; // STATX_TYPE
    private const int ModeOffset = 28; // stx_mode in struct statx
    private const int StatxSize = 256;

    /// <summary>The kind of what <paramref name="path"/> names.</summary>
    public static FileKind Of(string path)
    {
        if (Directory.Exists(path)) return FileKind.Directory;
        if (!File.Exists(path)) return FileKind.Missing;
        return OperatingSystem.IsLinux() ? LinuxKind(path) : FileKind.Regular;
    }

    /// <summary>"a FIFO", "a character device", ...: how an error names a file of <paramref name="kind"/>.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a folder",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        _ => "a socket",
    };

    private static unsafe FileKind LinuxKind(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        try
        {
            if (Statx(CurrentDirectory, path, 0, TypeField, buffer) != 0) return FileKind.Regular;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return FileKind.Regular; // a C library without statx: the kind cannot be told
        }
        return (*(ushort*)(buffer + ModeOffset) & 0xF000) switch
        {
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x4000 => FileKind.Directory,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Regular,
        };
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}
