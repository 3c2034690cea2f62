"""HAN OTA Rig: a hardware-in-the-loop test rig for GB smart-metering HAN OTA (PPMID / HCALCS).

Packages, one per concern (dependencies point down):
  rig.plan      test-plan schema, loader, step library, runner
  rig.backend   DSP/CSP stub: service requests, distribution controls, version register, alerts
  rig.hub       the Communications Hub: zigpy/bellows coordinator, OTA server, image store
  rig.emu       emulated EZSP stick + simulated HAN with emulated PPMID/HCALCS/GSME
  rig.image     Zigbee OTA file format (and GB bare images)
  rig.report    records, JUnit properties, HTML, captures
  rig.clock     the one injectable clock
"""

__version__ = "0.1.0"
