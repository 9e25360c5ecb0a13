; NSIS script for clearway's Windows installer, built on Linux with makensis
; (Debian package nsis) by build/dist.sh:
;
;   makensis -V2 -DVERSION=0.1.0 -DVERSION4=0.1.0.0 -DEXE=dist/.../clearway.exe \
;            -DICON=assets/icon/clearway.ico -DOUTFILE=dist/clearway-0.1.0-windows-amd64-setup.exe \
;            [-DSIGN_SCRIPT=build/windows/sign.sh] build/windows/clearway.nsi
;
; It installs for the current user only, without administrator rights:
; the program goes to %LOCALAPPDATA%\Programs\clearway, a shortcut to the
; user's Start menu, the uninstaller into Apps & features (HKCU). The optional
; "Start at login" component writes the same HKCU Run value the tray's
; "Start at login" item toggles. Settings, cookies and keychain entries are
; left in place on uninstall.

Unicode true
ManifestDPIAware true
ManifestSupportedOS all

!ifndef VERSION
  !error "pass -DVERSION=x.y.z"
!endif
!ifndef VERSION4
  !error "pass -DVERSION4=x.y.z.w (numeric, for the version resource)"
!endif
!ifndef EXE
  !error "pass -DEXE=path/to/clearway.exe"
!endif
!ifndef ICON
  !error "pass -DICON=path/to/clearway.ico"
!endif
!ifndef OUTFILE
  !error "pass -DOUTFILE=path/to/setup.exe"
!endif

!define APP "clearway"
!define PUBLISHER "clearway"
!define HOMEPAGE "https://github.com/clearway/clearway"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
SetCompressor /SOLID lzma
BrandingText "${APP} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION4}"
VIFileVersion "${VERSION4}"
VIAddVersionKey /LANG=1033 "ProductName" "${APP}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APP} ${VERSION} setup"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER} authors"
VIAddVersionKey /LANG=1033 "OriginalFilename" "${APP}-${VERSION}-windows-amd64-setup.exe"

; The uninstaller is written inside the installer; sign it there too.
!ifdef SIGN_SCRIPT
  !uninstfinalize '"${SIGN_SCRIPT}" "%1"' = 0
!endif

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP}.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP} now"
!define MUI_FINISHPAGE_LINK "How to point your IDE at ${APP}"
!define MUI_FINISHPAGE_LINK_LOCATION "${HOMEPAGE}#readme"

!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; StopRunning asks a running clearway (of this user) to quit, then ends it,
; so its file can be replaced or removed. taskkill without /F only reaches
; programs with a window; the tray has none that answers, hence the second step.
!macro StopRunning un
Function ${un}StopRunning
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /IM ${APP}.exe /T'
  Pop $0
  Sleep 1000
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /IM ${APP}.exe /T'
  Pop $0
FunctionEnd
!macroend
!insertmacro StopRunning ""
!insertmacro StopRunning "un."

Function .onInit
  SetShellVarContext current
FunctionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

Section "${APP} (required)" SecApp
  SectionIn RO
  Call StopRunning
  SetOutPath "$INSTDIR"
  File "/oname=${APP}.exe" "${EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\${APP}.exe" "" "$INSTDIR\${APP}.exe" 0 SW_SHOWNORMAL "" "Local proxy for LLM APIs"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "URLInfoAbout" "${HOMEPAGE}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP}.exe,0"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

; Off by default (a silent install /S does not add it); the tray's
; "Start at login" item reads and writes the same value.
Section /o "Start ${APP} at login" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${APP}" '"$INSTDIR\${APP}.exe"'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The ${APP} tray app and proxy, a Start menu entry and an uninstaller."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Start ${APP} in the tray when you log in to Windows (can be changed later from the tray menu)."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Section "Uninstall"
  Call un.StopRunning
  Delete "$INSTDIR\${APP}.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP}"
  DeleteRegKey HKCU "${UNINST_KEY}"
  ; Kept on purpose: settings, cookies and logs in %LOCALAPPDATA%\clearway and
  ; the API keys in Windows Credential Manager (service "clearway").
SectionEnd
