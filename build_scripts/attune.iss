; Inno Setup 6 script for Attune on Windows: a per-user install, no administrator rights.
;
; build_scripts/build.py runs it after PyInstaller, as
;   ISCC.exe /DAppVersion=0.1.0 /DSourceDir=dist\attune /DOutputDir=dist
;            /DIconFile=build\icons\attune.ico [/DSignTool /Sattune=...] build_scripts\attune.iss
; The workspace (%LOCALAPPDATA%\Attune) is the user's data: uninstalling never touches it.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (build.py reads it from pyproject.toml)
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\attune"
#endif
#ifndef OutputDir
  #define OutputDir "..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\build\icons\attune.ico"
#endif

[Setup]
; Never change AppId: Windows uses it to find an existing install to upgrade.
AppId={{6B1D6F0E-7A52-4C1B-9B7E-5C2F3D8A4E21}
AppName=Attune
AppVersion={#AppVersion}
AppVerName=Attune {#AppVersion}
AppPublisher=Attune
VersionInfoVersion={#AppVersion}
; Per user, no UAC prompt: {autopf} becomes %LOCALAPPDATA%\Programs.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\Attune
DefaultGroupName=Attune
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=Attune-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\Attune.exe
UninstallDisplayName=Attune {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
#ifdef SignTool
; build.py defines the "attune" sign tool from ATTUNE_WINDOWS_CERT (see docs/install.md).
SignTool=attune
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the program files wholesale, so no stale library survives.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Attune"; Filename: "{app}\Attune.exe"
Name: "{autodesktop}\Attune"; Filename: "{app}\Attune.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\Attune.exe"; Description: "{cm:LaunchProgram,Attune}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the program itself wrote next to itself; never the workspace.
Type: filesandordirs; Name: "{app}\_internal"
