// MSBuild task (compiled by RoslynCodeTaskFactory, see IlgpuDiffusion.Bench.csproj) that marks
// one symbol-version requirement of ELF64 shared libraries as weak.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so lists GLIBCXX_3.4.32 (GCC 13) among its
// libstdc++ version needs, only for std::ios_base_library_init, an undefined symbol that
// no relocation uses (GCC 13's <iostream> references it to pull in iostream init). Debian
// 12's libstdc++ stops at GLIBCXX_3.4.30, so ld.so refuses to load the library. Setting
// VER_FLG_WEAK in that requirement's Vernaux entry turns "version not found" from an error
// into a non-event (glibc dl-version.c only reports weak misses when tracing); every other
// requirement stays strict. The file is rewritten through a temporary copy so that a
// hard link back into the NuGet cache is never modified.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenVersionNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>ELF64 little-endian shared libraries to patch in place.</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version name whose requirement becomes weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        foreach (ITaskItem item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                byte[] image = File.ReadAllBytes(path);
                int changed = Weaken(image, VersionName);
                if (changed < 0)
                {
                    Log.LogMessage(MessageImportance.High, $"{path}: already weak for {VersionName} or no such need, left as is.");
                    continue;
                }
                string temporary = path + ".weakening";
                File.WriteAllBytes(temporary, image);
                File.Delete(path); // unlink: a hard link into the NuGet cache keeps the original
                File.Move(temporary, path);
                Log.LogMessage(MessageImportance.High, $"{path}: marked the {VersionName} version need weak.");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogError($"Cannot patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux named <paramref name="version"/>; returns how many changed, −1 if none.</summary>
    private static int Weaken(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long sectionHeaders = (long)U64(elf, 0x28);
        int headerSize = U16(elf, 0x3a), headerCount = U16(elf, 0x3c);
        int changed = 0;
        for (int s = 0; s < headerCount; s++)
        {
            long header = sectionHeaders + (long)s * headerSize;
            if (U32(elf, header + 4) != ShtGnuVerneed) continue;
            long offset = (long)U64(elf, header + 0x18);                        // sh_offset
            uint strings = U32(elf, header + 0x28), needCount = U32(elf, header + 0x2c); // sh_link, sh_info
            long stringTable = (long)U64(elf, sectionHeaders + strings * headerSize + 0x18);
            long need = offset;
            for (uint i = 0; i < needCount; i++)
            {
                int auxCount = U16(elf, need + 2);                                 // vn_cnt
                long aux = need + U32(elf, need + 8);                              // vn_aux
                for (int j = 0; j < auxCount; j++)
                {
                    string name = CString(elf, stringTable + U32(elf, aux + 8));   // vna_name
                    ushort flags = U16(elf, aux + 4);                              // vna_flags
                    if (name == version && (flags & VerFlgWeak) == 0)
                    {
                        flags |= VerFlgWeak;
                        elf[aux + 4] = (byte)flags;
                        elf[aux + 5] = (byte)(flags >> 8);
                        changed++;
                    }
                    aux += U32(elf, aux + 12);                                     // vna_next
                }
                need += U32(elf, need + 12);                                       // vn_next
            }
        }
        return changed > 0 ? changed : -1;
    }

    private static ushort U16(byte[] b, long at) => (ushort)(b[at] | b[at + 1] << 8);
    private static uint U32(byte[] b, long at) => (uint)(U16(b, at) | U16(b, at + 2) << 16);
    private static ulong U64(byte[] b, long at) => U32(b, at) | (ulong)U32(b, at + 4) << 32;

    private static string CString(byte[] b, long at)
    {
        long end = at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
    }
}
